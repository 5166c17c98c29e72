"""The digest's sentence picker: the one sentence of an article that says most of what it is about.

LexRank-style centrality over word + character-bigram TF-IDF rows (``bot.analysis.excerpts.featurize``),
plus overlap with the title; a leading news dateline is cut from the pick.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bot.analysis.excerpts import featurize
from bot.analysis.summarize_text import content as _content
from index.ingest.split import split_sentences

__all__ = ["article_sentences", "representative_sentence", "strip_dateline"]

# News datelines such as "央视网消息（新闻联播）：" or "新华社北京1月1日电 " say nothing about the story.
_DATELINE = re.compile(r"^[^。！？：:\n]{0,30}?(?:消息|电)(?:（[^）]{0,20}）)?[：:\s]+|^（[^）]{0,30}）\s*")


def article_sentences(paragraphs: Sequence[str]) -> list[str]:
    """The sentences of the paragraphs in order, split by the index's rule (``index.ingest.split``)."""
    return [sentence for p in paragraphs for sentence in split_sentences(p)]


def representative_sentence(paragraphs: list[str], title: str | None = None, min_chars: int = 10) -> str:
    """Return the article sentence most central to it (LexRank-style degree, plus title overlap).

    Centrality is the mean cosine similarity to the other sentences; a title, when given, adds
    half the sentence's similarity to it. Ties go to the earlier sentence. A leading news
    dateline ("新华社北京1月1日电") is cut from the returned sentence.
    """
    sentences = article_sentences(paragraphs)
    if not sentences:
        return ""
    # Datelines and captions are short; score only real sentences when there are any.
    pool = [s for s in sentences if len(_content(s)) >= min_chars] or sentences
    if len(pool) == 1:
        return strip_dateline(pool[0])
    m = featurize(pool + ([title] if title else [])).tfidf
    s = m[: len(pool)]
    # Mean similarity to the other sentences, from one sparse product (minus the self-similarity).
    score = (np.asarray(s @ np.asarray(s.sum(axis=0)).ravel()) - np.asarray(s.multiply(s).sum(axis=1)).ravel()) / (
        len(pool) - 1
    )
    if title:
        score = score + 0.5 * (s @ m[len(pool)].T.toarray().ravel())
    best = int(np.flatnonzero(score >= score.max() - 1e-12)[0])
    return strip_dateline(pool[best])


def strip_dateline(sentence: str) -> str:
    """The sentence without a leading news dateline, unless that would leave almost nothing."""
    stripped = _DATELINE.sub("", sentence, count=1).strip()
    return stripped if len(_content(stripped)) >= 4 else sentence
