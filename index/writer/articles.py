"""Articles from outside the seeds (feed items, fetched pages, channel posts) added to the index in one version."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.config import IndexConfig
from index.ingest.seeds import content_hash
from index.schema import Article
from index.writer.added import known_articles, new_articles, slug, write_articles
from index.writer.operations import add_to_index

logger = logging.getLogger(__name__)


@dataclass
class Added:
    """What ``add_articles`` did: the version it published, and per batch how many articles it added or why not."""

    version: str | None = None  # None: nothing new, or nothing could be added
    added: dict[str, int] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)


def write_new_articles(batches: Mapping[str, Sequence[Article]], index_dir: Path) -> dict[str, tuple[Path, int]]:
    """Write each batch's articles the index lacks as one JSONL file under ``<index dir>/added/``.

    Returns {batch name: (file, articles in it)} for the batches that had any.
    """
    known = known_articles(index_dir)
    written: dict[str, tuple[Path, int]] = {}
    for name, articles in batches.items():
        fresh = new_articles(list(articles), known)
        # The next batch must not add these again (the same story in two feeds).
        known[0].update({a.id: content_hash(a.title, a.paragraphs) for a in fresh})
        known[1].update(known[0][a.id] for a in fresh)
        if fresh:
            written[name] = (write_articles(index_dir, slug(name), fresh), len(fresh))
    return written


def add_articles(batches: Mapping[str, Sequence[Article]], index_dir: Path, encoder=None,
                 config: IndexConfig | None = None, *, embed: bool | None = None) -> Added:
    """Add the articles the index lacks (feed items, fetched pages, channel posts) in one version.

    Each batch (named by its feed, URL or channel) is kept as one JSONL file under ``<index dir>/added/``;
    an article the index holds (same id and content, or the same content under another id) is left out.
    If the version cannot be written, each batch is added alone, so one whose articles break the build
    holds back no other; a batch not added leaves no file behind (the next try writes it again).
    """
    written = write_new_articles(batches, index_dir)
    result = Added()
    if not written:
        return result
    tries = [list(written)] + ([[name] for name in written] if len(written) > 1 else [])
    for names in tries:
        try:
            report = add_to_index([written[n][0] for n in names], index_dir, encoder, config, embed=embed,
                                  progress=False)
        except Exception as e:  # noqa: BLE001 — returned per batch; one bad batch stops no other
            if len(names) == 1:
                written.pop(names[0])[0].unlink(missing_ok=True)
                result.failed[names[0]] = e
            else:
                logger.warning("adding %d batches at once failed (%s); adding them one by one", len(names), e)
            continue
        result.version = report.version
        for n in names:
            result.added[n] = written.pop(n)[1]
        if not written:
            break
    return result
