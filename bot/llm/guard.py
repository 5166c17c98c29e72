"""The guard: a generated answer is shown only if every claim in it points at a quoted passage.

Checked per sentence, after the same folding as search (``index.ingest.clean.normalize_for_search``):

- it ends with markers (``[1]``) of passages that exist, and has none elsewhere (the fixed "the
  passages don't answer" sentence excepted);
- every number (Arabic, or a Chinese numeral such as 三千五百), every date (``2月9日``) and every
  quoted name (in “”, 「」, 『』, 《》, "") in it appears in the passages it cites: their text, title,
  time and source, which is all the model was shown of them;

and for the whole answer: one to three sentences, no run of the instructions repeated, none of the
prompt's scaffolding or a chat template's tokens (a model echoing its input: Gemma 3 270M did).
Anything else the model could invent (an unquoted name, a paraphrase that changes the meaning) is
not caught here: the quotes below the answer are there to be checked against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.ingest.clean import normalize_for_search

from .prompt import CLOSE, NO_ANSWER, OPEN, SYSTEM, Source

MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 600
LEAK_NGRAM = 8  # characters: a run this long of the instructions in an answer is a leak

_MARKER = re.compile(r"\[(\d{1,3})\]")
_END = re.compile(r"[。！？!?]+(?:\s*\[\d{1,3}\])*")
_TAIL = re.compile(r"(?:\s*\[\d{1,3}\]|\s*[。！？!?])+\s*$")  # a sentence's end: marks and markers
# The prompt's scaffolding or a chat template's tokens in an answer: the model echoed its input.
SCAFFOLDING = (OPEN, CLOSE, "<|", "|>", "<start_of_turn>", "<end_of_turn>", "标题：", "请按规则")
_PARTIAL_TAIL = re.compile(r"(?:\s*\[\d{1,3}\])*\s*(?:\[\d{0,3})?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千万亿]{2,}")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")
_ISO_DAY = re.compile(r"\d{4}-(\d{2})-(\d{2})")
_QUOTED = re.compile(r"[“\"「『《‘]([^“”\"「」『』《》‘’]{1,40})[”\"」』》’]")


@dataclass(frozen=True)
class Verdict:
    """Whether an answer may be shown; if not, why (for the log)."""

    ok: bool
    reason: str = ""


def normalize_markers(text: str) -> str:
    """【1】 and ［1］ as [1] (NFKC does the second; models write the first too)."""
    return re.sub(r"[【［]\s*(\d{1,3})\s*[】］]", r"[\1]", text)


def split_sentences(text: str, final: bool) -> tuple[list[str], str]:
    """The complete sentences of ``text`` (each with its trailing markers) and what is left over.

    While the stream goes on (``final`` False) a sentence counts as complete only once something
    other than its markers follows it; at the end, the rest is a last sentence of its own.
    """
    out, pos = [], 0
    for match in _END.finditer(text):
        if not final and _PARTIAL_TAIL.fullmatch(text, match.end()):
            break  # markers may still be coming
        out.append(text[pos : match.end()].strip())
        pos = match.end()
    rest = text[pos:]
    if final and rest.strip():
        out.append(rest.strip())
        rest = ""
    return [s for s in out if s], rest


def cn_number(run: str) -> int | None:
    """The value of a Chinese numeral (三千五百, 二〇二〇, 十二万), or None if it is not one."""
    if all(c in _CN_DIGITS for c in run):  # digit by digit: 二〇二〇
        return int("".join(str(_CN_DIGITS[c]) for c in run))
    total = myriads = section = digit = 0  # 亿 and above, 万s, below 万, the last digit
    for c in run:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[c]
            digit = 0
        elif c == "万":
            myriads += (section + digit or 1) * 10_000
            section = digit = 0
        elif c == "亿":
            total = (total + myriads + section + digit or 1) * 100_000_000
            myriads = section = digit = 0
        else:
            return None
    return total + myriads + section + digit


def _value(token: str) -> str:
    """A number as a canonical string: 02 -> 2, 3.50 -> 3.5."""
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token.lstrip("0") or "0"


def numbers(text: str) -> set[str]:
    """Every number in folded ``text``, Arabic (thousands separators dropped) or Chinese, canonical."""
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    found = {_value(t) for t in _NUMBER.findall(plain)}
    for run in _CN_NUMERAL.findall(text):
        value = cn_number(run)
        if value is not None:
            found.add(str(value))
    return found


def days(text: str) -> set[tuple[int, int]]:
    """(month, day) of every 2月9日 and 2020-02-09 in folded ``text``."""
    return {(int(m), int(d)) for m, d in _MONTH_DAY.findall(text) + _ISO_DAY.findall(text)}


def check_sentence(sentence: str, numbered: Sequence[Source]) -> str | None:
    """Why one sentence may not be shown, or None when it may."""
    tail = _TAIL.search(sentence)
    body = sentence[: tail.start()] if tail else sentence
    cited = [int(n) for n in _MARKER.findall(tail[0])] if tail else []
    if _bare(_MARKER.sub("", sentence)) == _bare(NO_ANSWER):
        return None
    if _MARKER.search(body):
        return f"a marker inside a sentence, not at its end: {sentence[:40]!r}"
    if not cited:
        return f"a sentence cites no passage: {sentence[:40]!r}"
    missing = sorted({n for n in cited if not 1 <= n <= len(numbered)})
    if missing:
        return f"cites passage {missing} of {len(numbered)}"
    evidence = normalize_for_search("\n".join(s.facts_text() for s in numbered if s.number in cited))
    folded = normalize_for_search(body)
    for run in _CN_NUMERAL.findall(folded):
        if run in evidence:  # 十二五 in the text as written
            folded = folded.replace(run, " ")
    unsupported = sorted(numbers(folded) - numbers(evidence))
    if unsupported:
        return f"number {unsupported[0]} is in none of the cited passages {sorted(set(cited))}"
    unseen_days = days(folded) - days(evidence)
    if unseen_days:
        m, d = sorted(unseen_days)[0]
        return f"date {m}月{d}日 is in none of the cited passages"
    for name in _QUOTED.findall(sentence):
        if normalize_for_search(name).strip() not in evidence:
            return f"quoted name {name!r} is in none of the cited passages"
    return None


def _bare(text: str) -> str:
    """Folded text without punctuation or spaces: for comparing a sentence with a fixed one."""
    return re.sub(r"[\W_]+", "", normalize_for_search(text))


def _grams(text: str) -> set[str]:
    bare = _bare(text)
    return {bare[i : i + LEAK_NGRAM] for i in range(len(bare) - LEAK_NGRAM + 1)}


def check_answer(text: str, numbered: Sequence[Source], instructions: str = SYSTEM) -> Verdict:
    """Whether the whole answer may be shown (see the module docstring); ``instructions``: the system prompt."""
    text = normalize_markers(text).strip()
    if not text:
        return Verdict(False, "empty answer")
    if len(text) > MAX_ANSWER_CHARS:
        return Verdict(False, f"answer longer than {MAX_ANSWER_CHARS} characters")
    echoed = next((s for s in SCAFFOLDING if s in text), None)
    if echoed:
        return Verdict(False, f"the answer repeats the prompt's scaffolding ({echoed!r})")
    sentences, _ = split_sentences(text, final=True)
    if len(sentences) > MAX_SENTENCES:
        return Verdict(False, f"more than {MAX_SENTENCES} sentences ({len(sentences)})")
    for sentence in sentences:
        reason = check_sentence(sentence, numbered)
        if reason:
            return Verdict(False, reason)
    evidence = set().union(*(_grams(s.facts_text()) for s in numbered)) if numbered else set()
    if (_grams(text) & (_grams(instructions) - _grams(NO_ANSWER))) - evidence:
        return Verdict(False, "the answer repeats the instructions")
    return Verdict(True)
