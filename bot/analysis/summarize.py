"""Extractive summaries of group discussions (pure functions, no Telegram).

Keywords come from jieba's TF-IDF table; quotes are picked under a character budget by MMR over
sentence units (bot/excerpts.py): word + character-bigram TF-IDF, centroid relevance damped for
filler, a hard near-duplicate cut.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.analysis.messages import ChatMessage
from bot.analysis.excerpts import Excerpt, Features, featurize, pick_units, relevance, units
from bot.analysis.excerpts import excerpts as group_excerpts
from bot.analysis.summarize_text import bigrams as _bigrams
from bot.analysis.summarize_text import clean as _clean
from bot.analysis.summarize_text import content as _content
from bot.analysis.summarize_text import idf as _idf
from bot.analysis.summarize_text import words as _words

logger = logging.getLogger(__name__)

__all__ = [
    "ChatMessage",
    "Excerpt",
    "Summary",
    "summarize",
    "keywords",
    "bigram_jaccard",
]

DUPLICATE_JACCARD = 0.6
# Past this many characters in a window, each message is read only in part (jieba reads ~0.5 M
# characters a second on this machine, and a 2,000-message window must answer within 2 s).
ANALYSE_CHARS = 200_000

_KEYWORD_SHAPE = re.compile(r"^(?=.*[^\W\d_])\w+$")  # word characters only, not only digits


# -- data types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """An extractive summary of a window of chat messages."""

    keywords: list[str]
    picks: list[Excerpt]  # chronological: what is quoted of each chosen message
    participants: int
    messages_read: int
    related: list = field(default_factory=list)
    first_time: datetime | None = None
    last_time: datetime | None = None
    too_few: bool = False
    min_messages: int = 0
    chars_read: int = 0  # letters and digits of the discussion (counted below the message floor only)
    min_chars: int = 0


# -- text helpers ----------------------------------------------------------------------------


def bigram_jaccard(a: str, b: str) -> float:
    """Return the Jaccard similarity of the character-bigram sets of two texts."""
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def reply_threads(messages: Sequence[ChatMessage]) -> np.ndarray:
    """Return a reply-thread id per message (union of reply_to links inside the window)."""
    index = {m.message_id: i for i, m in enumerate(messages)}
    parent = list(range(len(messages)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, m in enumerate(messages):
        j = index.get(m.reply_to) if m.reply_to is not None else None
        if j is not None:
            parent[find(i)] = find(j)
    return np.array([find(i) for i in range(len(messages))], dtype=np.int64)


# -- keywords --------------------------------------------------------------------------------


def keywords(texts: Sequence[str], k: int = 8) -> list[str]:
    """Return up to `k` topic keywords of the texts, ranked by jieba TF-IDF times spread.

    A keyword is a jieba token found verbatim in some text; tokens unknown to jieba's
    dictionary (often mis-segmentations) must occur in at least two texts.
    """
    return _rank_keywords([_words(t) for t in texts], texts, k)


def _rank_keywords(word_lists: Sequence[list[str]], texts: Sequence[str], k: int) -> list[str]:
    """Rank keywords from already tokenized texts (word_lists[i] holds the words of texts[i])."""
    import jieba

    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text, ws in zip(texts, word_lists):
        ws = [w for w in ws if len(w) >= 2 and _KEYWORD_SHAPE.match(w)]
        tf.update(ws)
        df.update(set(ws))
        low = text.lower()
        for w in ws:
            if w not in surface:
                # Keep the spelling used in the chat ("iPhone", not "iphone").
                pos = low.find(w)
                surface[w] = text[pos : pos + len(w)] if pos >= 0 else w
    known = jieba.dt.FREQ
    scored = []
    for w, c in tf.items():
        if df[w] < 2 and not known.get(w):
            continue
        # Spread across messages matters more than one message repeating a word.
        scored.append((c * _idf(w) * (1 + math.log(df[w])), w))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [surface[w] for _, w in scored[:k]]


# -- selection -------------------------------------------------------------------------------


def unit_relevance(features: Features, lengths: np.ndarray) -> np.ndarray:
    """Return each unit's relevance: cosine to the window's centroid, damped for filler and brevity.

    Density (the share of a unit's characters inside meaningful words) keeps "对吧，然后就是这个"
    from outranking content; the length damping keeps "好" from being the most central message.
    Chosen on the even half of VCSum dev (bench/summary_vcsum.py).
    """
    rel = relevance(features.tfidf, "centroid")
    return rel * np.minimum(1.0, np.sqrt(lengths / 20)) * features.density


def select_excerpts(
    messages: Sequence[ChatMessage],
    budget: int = 400,
    max_messages: int = 5,
    *,
    diversity: float = 0.5,
    duplicate_jaccard: float = DUPLICATE_JACCARD,
    thread_similarity: float = 0.5,
    per_message: int = 1,
    analyse_chars: int = ANALYSE_CHARS,
    _features: list | None = None,
) -> list[Excerpt]:
    """Quote up to `budget` characters from at most `max_messages` messages, in chat order.

    A short message is quoted whole; of a long one, its `per_message` most representative
    sentences (one quoted sentence from each of more messages scored better on VCSum dev than two).
    """
    texts = [m.text for m in messages]
    total = sum(len(t) for t in texts)
    # A huge window is read in part: every message's beginning, as much as the budget allows.
    cap = max(100, analyse_chars // max(1, len(texts))) if total > analyse_chars else None
    us = units(texts, analyse_chars=cap)
    if not us or budget <= 0 or max_messages <= 0:
        return []
    # A capped window also skips jieba's unknown-word HMM: 25 % faster, and the same VCSum dev
    # score without it (0.353 / 0.349 on the two halves, against 0.346 / 0.353 with it).
    f = featurize([u.text for u in us], hmm=cap is None)
    if _features is not None:
        _features.append((us, f))
    lengths = f.chars
    message_of = np.array([u.message for u in us], dtype=np.int64)
    picked = pick_units(
        f,
        unit_relevance(f, lengths),
        np.array([len(u.text) for u in us]),
        message_of,
        budget,
        diversity=diversity,
        max_messages=max_messages,
        max_per_message=per_message,
        threads=reply_threads(messages)[message_of],
        thread_similarity=thread_similarity,
        duplicate_jaccard=duplicate_jaccard,
    )
    return group_excerpts(messages, [us[i] for i in sorted(picked)])


def summarize(
    messages: Sequence[ChatMessage],
    n: int = 5,
    *,
    min_messages: int = 10,
    min_chars: int = 300,
    quote_chars: int = 400,
    n_keywords: int = 8,
    related: Callable[[list[str]], list] | None = None,
    max_related: int = 3,
    diversity: float = 0.5,
    duplicate_jaccard: float = DUPLICATE_JACCARD,
) -> Summary:
    """Summarize a window of chat messages: keywords, quotes from up to `n` messages, counts, news.

    A window is summarized when it has `min_messages` messages or `min_chars` characters of
    discussion, whichever comes first; otherwise the Summary has `too_few=True`. The quotes
    take at most `quote_chars` characters. `related(keywords)` (optional) returns news items for the
    discussion's keywords; errors there are logged and ignored so a broken index never breaks /summary.
    """
    msgs = [m for m in messages if m.text and m.text.strip()]
    participants = len({m.user_id for m in msgs})
    first = min((m.time for m in msgs), default=None)
    last = max((m.time for m in msgs), default=None)
    # Characters are counted only below the message floor: a large window passes on its count.
    chars = _discussion_chars(msgs) if len(msgs) < min_messages else 0
    if len(msgs) < min_messages and chars < min_chars:
        return Summary([], [], participants, len(msgs), [], first, last, True, min_messages, chars, min_chars)

    built: list = []
    picks = select_excerpts(
        msgs, quote_chars, n, diversity=diversity, duplicate_jaccard=duplicate_jaccard, _features=built
    )
    if built:
        # The units are already tokenized: rank keywords from their words, message by message.
        us, f = built[0]
        by_message: dict[int, list[str]] = {}
        for u, ws in zip(us, f.words):
            by_message.setdefault(u.message, []).extend(ws)
        idx = sorted(by_message)
        kws = _rank_keywords([by_message[i] for i in idx], [_clean(msgs[i].text) for i in idx], n_keywords)
    else:
        kws = []
    items: list = []
    if related is not None and max_related > 0 and kws:
        try:
            items = _unique_related(related(kws))[:max_related]
        except Exception:
            logger.warning("related() failed; summary goes out without news", exc_info=True)
    return Summary(kws, picks, participants, len(msgs), items, first, last, False, min_messages, chars, min_chars)


def _discussion_chars(messages: Sequence[ChatMessage]) -> int:
    """Letters and digits of the messages, commands left out."""
    return sum(len(_content(m.text)) for m in messages if not m.text.strip().startswith("/"))


def _unique_related(items: list) -> list:
    """The related items in order, each title once."""
    seen, out = set(), []
    for item in items or []:
        key = item if isinstance(item, str) else getattr(getattr(item, "passage", item), "title", None) or str(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
