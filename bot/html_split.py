"""Split Telegram HTML into messages under the length limit, never inside a tag or an entity.

Breaks fall between blocks, then lines, then sentences, then characters; tags open at a break are
closed at the end of one message and reopened at the start of the next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import MAX_MESSAGE_CHARS, tg_len

__all__ = ["split_message"]

_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.S)
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][\w-]*)")
_EMPTY_ELEMENT = re.compile(r"<([a-zA-Z][\w-]*)(?:\s[^>]*)?>(\s*)</\1>")
_SENTENCE_END = frozenset("。！？；!?;…")
_CLOSING_PUNCT = frozenset("”’」』）)\"'")

# Break strengths, strongest first: between blocks, between lines, after a sentence, anywhere.
_PARAGRAPH, _LINE, _SENTENCE, _CHAR = range(4)


def _closing(stack: Sequence[str]) -> str:
    return "".join(f"</{_tag_name(tag)}>" for tag in reversed(stack))


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    if not match:
        raise ValueError(f"not a tag: {tag!r}")
    return match[1].lower()


def _drop_empty_elements(html: str) -> str:
    while True:
        cleaned = _EMPTY_ELEMENT.sub(r"\2", html)
        if cleaned == html:
            return html
        html = cleaned


def _break_strength(tokens: Sequence[str], j: int) -> int:
    """Return how good a break right after tokens[j] is."""
    token = tokens[j]
    after = tokens[j + 1] if j + 1 < len(tokens) else ""
    if token == "\n":
        return _PARAGRAPH if j > 0 and tokens[j - 1] == "\n" else _LINE
    if token in _SENTENCE_END and after not in _SENTENCE_END and after not in _CLOSING_PUNCT:
        return _SENTENCE
    if token in _CLOSING_PUNCT and j > 0 and tokens[j - 1] in _SENTENCE_END:
        return _SENTENCE
    return _CHAR


def split_message(html: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split well-formed Telegram HTML into messages of at most ``limit`` characters.

    It breaks between blocks (blank lines) if it can, then between lines, then after a sentence,
    and only then between two characters; it takes the strongest break that still fills a third
    of a message. A break never falls inside a tag or an entity: tags open at the break are closed
    at the end of one message and reopened at the start of the next.

    Args:
        html: the text, in Telegram HTML (tags balanced, <, > and & escaped in text).
        limit: the longest message allowed, in UTF-16 code units.

    Returns:
        The messages, without leading or trailing whitespace; empty input gives an empty list.
    """
    html = html.strip()
    if tg_len(html) <= limit:
        return [html] if html else []

    tokens = _TOKEN.findall(html)
    messages: list[str] = []
    stack: list[str] = []  # opening tags in effect where the next message starts
    i = 0
    while True:
        while i < len(tokens) and tokens[i].isspace():
            i += 1  # whitespace at a break is dropped, not carried over
        if i >= len(tokens):
            return messages
        parts = list(stack)  # the next message reopens the tags still open
        size = sum(tg_len(t) for t in parts)
        open_tags = list(stack)
        # strength -> (token index after the break, open tags there, len(parts), size there)
        breaks: dict[int, tuple[int, list[str], int, int]] = {}
        j = i
        while j < len(tokens):
            token = tokens[j]
            is_tag = len(token) > 2 and token[0] == "<" and token[-1] == ">"
            if not is_tag:
                new_tags = open_tags
            elif token.startswith("</"):
                new_tags = open_tags[:-1]
            else:
                new_tags = open_tags + [token]
            if size + tg_len(token) + tg_len(_closing(new_tags)) > limit:
                break
            parts.append(token)
            size += tg_len(token)
            open_tags = new_tags
            if not is_tag:
                breaks[_break_strength(tokens, j)] = (j + 1, list(open_tags), len(parts), size)
            elif token.startswith("</"):
                breaks[_CHAR] = (j + 1, list(open_tags), len(parts), size)
            j += 1
        if j >= len(tokens):
            text = _drop_empty_elements("".join(parts) + _closing(open_tags)).strip()
            if text:
                messages.append(text)
            return messages
        if not breaks:
            raise ValueError(f"limit {limit} is too small for {tokens[j][:40]!r}")
        good = [s for s in sorted(breaks) if breaks[s][3] >= limit // 3]
        strength = good[0] if good else max(breaks, key=lambda s: breaks[s][3])
        i, stack, n_parts, _ = breaks[strength]
        text = "".join(parts[:n_parts]).rstrip() + _closing(stack)
        text = _drop_empty_elements(text).strip()
        if text:
            messages.append(text)
