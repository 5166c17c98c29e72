"""Plain data types shared by the index library and its users."""

from __future__ import annotations

from dataclasses import dataclass, field

# Passage kinds.
PARAGRAPH = "paragraph"
HEADLINE = "headline"


@dataclass(frozen=True)
class Headline:
    """A listed headline (from a page's headline list, or an article's own title)."""

    title: str
    published_at: str | None  # ISO 8601 with offset, or None when the page gives no time
    tag: str | None = None
    source: str | None = None
    url: str | None = None
    article_id: str | None = None  # set when the headline is the title of an indexed article
    also_reported_by: tuple[str, ...] = ()  # sources of near-duplicate copies collapsed into this one


@dataclass
class Article:
    """One cleaned article: title, time, body paragraphs and metadata."""

    id: str
    title: str
    paragraphs: list[str]
    published_at: str | None = None
    source: str | None = None
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # "file:line" the article came from

    def to_json(self) -> dict:
        """One line of seed JSONL, the format index.ingest.seeds reads back (body: paragraphs joined by newlines)."""
        return {"id": self.id, "title": self.title, "body": "\n".join(self.paragraphs),
                "published_at": self.published_at, "source": self.source, "url": self.url}


@dataclass(frozen=True)
class Passage:
    """A searchable unit: a paragraph (or part of one) or a headline."""

    id: int
    article_id: str | None
    position: int
    kind: str  # PARAGRAPH or HEADLINE
    text: str
    title: str
    published_at: str | None
    source: str | None
    url: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Hit:
    """A search result: the passage, its score and the sentence that best answers the question."""

    rank: int
    score: float
    passage: Passage
    best_sentence: str
    lexical_score: float = 0.0
    dense_score: float | None = None
    also_reported_by: tuple[str, ...] = ()  # sources of near-duplicate articles collapsed into this hit

    def to_json(self) -> dict:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": p.id,
            "article_id": p.article_id,
            "title": p.title,
            "published_at": p.published_at,
            "source": p.source,
            "url": p.url,
            "kind": p.kind,
            "text": p.text,
            "best_sentence": self.best_sentence,
        }


@dataclass(frozen=True)
class SearchResult:
    """Hits for one question; `found` is False when nothing is likely enough to answer it."""

    query: str
    hits: list[Hit]
    found: bool
    nearest_headlines: list[Headline] = field(default_factory=list)
    # The China dates (first, last; inclusive, ISO) of the publication window the question asked for.
    date_range: tuple[str, str] | None = None
    confident: bool = True  # False: the best passage only may answer (quote it under a hedge)
    outside_range: bool = False  # nothing in date_range answered: the hits come from outside it
