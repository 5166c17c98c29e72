"""A question prepared once for the whole search: capped, folded, date-parsed and tokenized."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from index.search import rank
from index.ingest.clean import normalize_for_search
from index.store.lexical import tokenize
from index.search.timeq import TimeQuery, date_mentions, parse_time_query

# Longer questions are cut before anything else reads them: a question is a sentence or two, and
# every later step (jieba, the encoder, BM25) costs at least linear time in its length.
MAX_QUESTION_CHARS = 500


@dataclass(frozen=True)
class PreparedQuery:
    """What every step of a search needs from the question, computed once."""

    question: str  # as asked (stripped, capped)
    text: str  # searched for: folded (NFKC, lower case, Simplified), time words removed when `now` was given
    tokens: list[str]  # jieba tokens of `text` (BM25)
    words: list[str]  # the topic words among them (coverage, best sentence)
    time: TimeQuery | None = None  # what the question says about time (None: searched without a reference time)
    mentions: tuple[str, ...] = field(default=())  # how a passage would write its event dates ("2019年")

    @property
    def empty(self) -> bool:
        """Nothing left to search for (blanks, punctuation, symbols)."""
        return not is_askable(self.text)

    @property
    def topical(self) -> bool:
        """Whether any word says what the question is about (的的的, 是, 什么 alone do not)."""
        return rank.has_topic(self.tokens)


def is_askable(text: str) -> bool:
    """Whether a text has anything to search for (a letter or a digit); the bot asks before searching."""
    return any(ch.isalnum() for ch in text)


def prepare(question: str, now: datetime | None = None) -> PreparedQuery:
    """Prepare a question; with `now`, its time words are parsed against it and taken out of the text."""
    question = question.strip()[:MAX_QUESTION_CHARS]
    tq = parse_time_query(question, now) if now is not None else None
    text = normalize_for_search(tq.text if tq is not None and (tq.matched or tq.ignored) else question).strip()
    tokens = tokenize(text) if text else []
    return PreparedQuery(question, text, tokens, rank.content_words(tokens), tq,
                         date_mentions(tq) if tq is not None and tq.event else ())
