"""bot.html_split: Telegram HTML cut into messages under the limit, never inside a tag or an entity.

Moved from test_formatting.py with the splitter (bot/formatting.py -> bot/html_split.py).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.html_split import split_message
from bot.text import esc, tg_len
from tests.fakebotapi import parse_html


def plain(html: str) -> str:
    text, problems = parse_html(html)
    assert problems == [], problems
    return text


def test_split_message_keeps_short_text_whole():
    assert split_message("  <b>短</b>  ") == ["<b>短</b>"]
    assert split_message("") == []


def test_split_message_prefers_blocks_then_sentences():
    block = "<blockquote>" + "一句话。" * 30 + "</blockquote>"  # 144 characters
    messages = split_message(block + "\n\n" + block + "\n\n" + block, limit=320)
    assert messages == [block + "\n\n" + block, block]
    long = "<blockquote>" + "第一句很长很长。" * 40 + "</blockquote>"
    parts = split_message(long, limit=100)
    assert all(p.startswith("<blockquote>") and p.endswith("。</blockquote>") for p in parts)
    assert "".join(plain(p) for p in parts) == plain(long)


def test_split_message_never_cuts_a_tag_or_an_entity():
    html = "&amp;" * 50 + '<a href="https://e.x/?q=1&amp;r=2">' + "链" * 50 + "</a>"
    parts = split_message(html, limit=80)
    for part in parts:
        plain(part)  # well-formed on its own
        assert len(part) <= 80
    assert "".join(plain(p) for p in parts) == plain(html)


def test_split_message_counts_utf16_units():
    text = "😀" * 3000  # 6000 UTF-16 units
    parts = split_message(text)
    assert len(parts) == 2 and all(tg_len(p) <= 4096 for p in parts)


_pieces = st.lists(
    st.one_of(
        st.text(alphabet="社区防控要突出严准效。！？；，&<>\"' \nab", min_size=1, max_size=120).map(
            lambda t: ("text", t)
        ),
        st.sampled_from(["b", "i", "blockquote", "code"]).flatmap(
            lambda tag: st.text(alphabet="字。&<>", min_size=0, max_size=60).map(lambda t: (tag, t))
        ),
        # A quote with a bold sentence inside, as format_hits writes it.
        st.tuples(*[st.text(alphabet="句子。！&<\n", max_size=150)] * 3).map(
            lambda abc: ("quote", abc)
        ),
    ),
    max_size=40,
)


def _render(kind, value):
    if kind == "text":
        return esc(value)
    if kind == "quote":
        a, b, c = map(esc, value)
        return f"<blockquote>{a}<b>{b}</b>{c}</blockquote>"
    return f"<{kind}>{esc(value)}</{kind}>"


@settings(max_examples=300, deadline=None)
@given(pieces=_pieces, limit=st.integers(min_value=64, max_value=600))
def test_split_message_property(pieces, limit):
    html = "".join(_render(kind, t) for kind, t in pieces)
    messages = split_message(html, limit)
    for message in messages:
        assert tg_len(message) <= limit
        plain(message)  # balanced tags, escaped text
        assert message == message.strip() and message
    # Nothing is lost but whitespace at the breaks.
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert squash("".join(plain(m) for m in messages)) == squash(plain(html))
