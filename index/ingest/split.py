"""Split cleaned articles into passages: paragraphs (cut at sentence ends when long) and headlines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.schema import HEADLINE, PARAGRAPH, Article, Headline

# A sentence ends at 。！？；!?; (and any closing quotes or brackets right after it).
_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』)）\"']*|\n|$)")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at 。！？；!?; keeping the end marks."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


@dataclass(frozen=True)
class PassageDraft:
    """A passage before it has an id: what split produces and build stores."""

    article_id: str | None
    position: int
    kind: str
    text: str  # shown to the user
    index_text: str  # what is searched and embedded (split parts carry their headline as context)
    title: str
    published_at: str | None
    source: str | None
    url: str | None = None
    tag: str | None = None


def chunk_paragraph(paragraph: str, max_chars: int) -> list[str]:
    """Cut a paragraph longer than max_chars at sentence ends into parts of at most ~max_chars."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    parts: list[str] = []
    current = ""
    for sentence in split_sentences(paragraph):
        if current and len(current) + len(sentence) > max_chars:
            parts.append(current)
            current = ""
        current += sentence
    if current:
        parts.append(current)
    return parts


def split_article(article: Article, max_chars: int = 300) -> list[PassageDraft]:
    """Turn an article into its headline passage followed by its paragraph passages."""
    common = dict(
        article_id=article.id, title=article.title, published_at=article.published_at,
        source=article.source, url=article.url,
    )
    drafts = [PassageDraft(position=0, kind=HEADLINE, text=article.title, index_text=article.title, **common)]
    for paragraph in article.paragraphs:
        parts = chunk_paragraph(paragraph, max_chars)
        for part in parts:
            # A part of a split paragraph loses the sentences around it; its headline keeps the topic.
            index_text = part if len(parts) == 1 else f"{article.title}\n{part}"
            drafts.append(PassageDraft(position=len(drafts), kind=PARAGRAPH, text=part, index_text=index_text, **common))
    return drafts


def headline_passage(headline: Headline) -> PassageDraft:
    """A listed headline as a passage of its own (no article behind it)."""
    return PassageDraft(
        article_id=headline.article_id, position=0, kind=HEADLINE, text=headline.title,
        index_text=headline.title, title=headline.title, published_at=headline.published_at,
        source=headline.source, url=headline.url, tag=headline.tag,
    )
