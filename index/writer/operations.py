"""The index's write operations, one job each: build, add, remove, embed; and whether a rebuild is due."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from index import store
from index.writer.added import is_added, kept, read_removed, with_added, write_removed
from index.writer.append import append_version
from index.writer.report import BuildReport
from index.writer.rows import PreviousVersion, parse_file
from index.writer.vectors import embed_pending
from index.writer.write import fill_counts, write_version
from index.config import IndexConfig
from index.errors import NewsIndexError
from index.ingest.seeds import Skipped, iter_seed_files
from index.models.encoder import EncoderError, embed_passages

logger = logging.getLogger(__name__)


def build_index(sources: Iterable[Path], index_dir: Path, encoder=None, config: IndexConfig | None = None, *,
                embed: bool | None = None, rebuild: bool = False, progress: bool = True) -> BuildReport:
    """Build the index at index_dir from seed files and folders and its added files (a new version).

    Files are read one at a time and their rows streamed into the new version's SQLite, so memory
    does not grow with the corpus. Unchanged files are reused without parsing; passages whose text
    was embedded before (by the same model) get their vector from the cache, so only new or changed
    passages are embedded. The new version is published atomically; a build that dies leaves the
    previous one current. `rebuild` ignores the current version (nothing reused but the cache).
    """
    return _update(sources, index_dir, encoder, config, embed=embed, rebuild=rebuild, progress=progress)


def add_to_index(files: Iterable[Path], index_dir: Path, encoder=None, config: IndexConfig | None = None, *,
                 embed: bool | None = None, progress: bool = True, seeds: Iterable[Path] = ()) -> BuildReport:
    """Add seed files to the current index, keeping every file it already has.

    Each file is copied under ``<index dir>/added/`` first, so a rebuild keeps it (not one inside
    `seeds`, the seed sources every build reads). New files are appended to a copy of the current
    version (new rows, one new BM25 segment, new vectors); a file given again, or an article that
    changes rows already there, writes a whole version.
    """
    return _update(files, index_dir, encoder, config, add=True, embed=embed, progress=progress, seeds=seeds)


def remove_from_index(article_ids: Sequence[str], index_dir: Path, config: IndexConfig | None = None) -> BuildReport:
    """Remove articles by id: a new version without them (they stay out until their file gives them again)."""
    return _update([], index_dir, None, config, add=True, remove=article_ids, embed=False, progress=False)


def embed_missing(index_dir: Path, encoder, config: IndexConfig | None = None, *, progress: bool = True,
                  publish_every: int = 4096) -> int:
    """Embed the current version's passages that have no vector yet; resumable, publishes as it goes."""
    config = config or IndexConfig()
    with store.write_lock(index_dir):
        done = embed_pending(index_dir, encoder, config, progress=progress, publish_every=publish_every)
        sync_backend(index_dir, config, encoder)
        return done


def _update(sources: Iterable[Path], index_dir: Path, encoder, config: IndexConfig | None, *, add: bool = False,
            remove: Sequence[str] = (), embed: bool | None = None, rebuild: bool = False,
            progress: bool = True, seeds: Iterable[Path] = ()) -> BuildReport:
    """The one locked path of build, add and remove: reuse, append or write a version; embed; mirror."""
    config = config or IndexConfig()
    index_dir = Path(index_dir)
    model = encoder.name if encoder is not None else config.model
    embed = config.embed_on_build if embed is None else embed
    start = time.perf_counter()
    report = BuildReport()
    with store.write_lock(index_dir):
        prev = None if rebuild else PreviousVersion.open(index_dir)
        # The kind of passage vector: an index keeps the one it was built with (its vectors never mix);
        # a new index, a rebuild or another model gets the configured one.
        if prev is not None and prev.manifest.get("model") == model:
            config = dataclasses.replace(config, passage_vectors=store.passage_vectors(prev.manifest))
        elif encoder is not None and config.passage_vectors != "fp32" and not _can_embed(encoder, config.passage_vectors):
            logger.warning("%s cannot make %s passage vectors: this new index gets fp32 ones", model,
                           config.passage_vectors)
            config = dataclasses.replace(config, passage_vectors="fp32")
        # An add keeps copies of its files (removed again if no version holds them); a build reads
        # the seeds and everything added before.
        with contextlib.ExitStack() as stack:
            files = stack.enter_context(kept(sources, index_dir, seeds)) if add else with_added(sources, index_dir)
            try:
                _write(index_dir, iter_seed_files(files), prev, model, encoder, config, report,
                       add=add, remove=remove, embed=embed, progress=progress)
            finally:
                if prev is not None:
                    prev.close()
        if not report.unchanged:
            _record_removed(index_dir)
        if embed and encoder is not None:
            report.embedded += embed_pending(index_dir, encoder, config, progress=progress, report=report)
            report.vectors = store.read_manifest(store.require_version(index_dir))["counts"]["vectors"]
        sync_backend(index_dir, config, encoder, rebuild=rebuild)
    report.seconds = time.perf_counter() - start
    logger.info("build done: %s", report.to_dict() | {"skipped": len(report.skipped)})
    return report


def _write(index_dir: Path, files: Iterable[Path], prev: PreviousVersion | None, model: str, encoder,
           config: IndexConfig, report: BuildReport, *, add: bool, remove: Sequence[str], embed: bool,
           progress: bool) -> None:
    """Write the new version (or find the current one unchanged): append the added files, else write it whole."""
    paths = list(files)
    shas = {str(p): store.file_sha256(p) for p in paths}
    same_setup = (
        prev is not None and prev.manifest.get("model") == model
        and prev.manifest.get("max_passage_chars") == config.max_passage_chars
    )
    if same_setup and not remove and not add and shas == {k: v["sha256"] for k, v in prev.files.items()}:
        _report_unchanged(report, prev, len(paths))
        return
    encoder_now = encoder if embed else None  # embeds a small batch before publishing (vectors.embed_first)
    version = None
    if add and same_setup and not remove and not any(p in prev.files for p in shas):
        given = [parse_file(p, shas[str(p)], config, report).materialize() for p in paths]
        version = append_version(index_dir, prev, given, model, encoder, config, report, embed_now=encoder_now)
        if version is None:
            report.skipped, report.unused = [], Counter()  # the full path below reads them again
    if version is None:
        # What was removed stays out, even of a version written without the current one (--rebuild).
        version = write_version(index_dir, paths, shas, prev, model, encoder, config, report, add=add, remove=remove,
                                removed=read_removed(index_dir), progress=progress, embed_now=encoder_now)
    report.version = version.name


def _record_removed(index_dir: Path) -> None:
    """Keep the current version's removed ids beside it, for a build that starts without it."""
    db = store.open_db(store.require_version(index_dir) / store.DB)
    try:
        write_removed(index_dir, (r[0] for r in db.execute("SELECT article_id FROM excluded")))
    finally:
        db.close()


def _can_embed(encoder, kind: str) -> bool:
    """Whether `encoder` makes `kind` passage vectors (for a new index; an existing one insists on its own)."""
    try:
        embed_passages(encoder, ["测试"], 1, kind)
    except EncoderError:
        return False
    return True


def _report_unchanged(report: BuildReport, prev: PreviousVersion, files: int) -> None:
    """Fill the report of a build that found nothing to do from the current version."""
    report.unchanged = True
    report.version = prev.version.name
    report.files = report.files_reused = files
    for f in prev.files.values():
        report.skipped += [Skipped(*s.split(": ", 1)) for s in json.loads(f["skipped"])]
        report.unused.update(json.loads(f["unused"]))
    fill_counts(report, prev.manifest["counts"])


def sync_backend(index_dir: Path, config: IndexConfig, encoder, rebuild: bool = False) -> None:
    """With [index] backend = "milvus": mirror the version just published into Milvus (index.store.milvus)."""
    if config.backend == "milvus":
        from index.store import milvus

        milvus.sync_index(index_dir, config, rebuild=rebuild, encoder=encoder)


def index_is_stale(sources: Iterable[Path], index_dir: Path, config: IndexConfig | None = None) -> bool:
    """True when the index is missing or its seed files, model or splitting differ from the config.

    Only the seeds count: the files added since (``<index dir>/added/``) are the index's own, and a
    build reads them again whatever the seeds are.
    """
    config = config or IndexConfig()
    version = store.current_version(index_dir)
    if version is None:
        return True
    try:
        manifest = store.read_manifest(version)
        db = store.open_db(version / store.DB)
        files = {r["path"]: r["sha256"] for r in db.execute("SELECT path, sha256 FROM files")
                 if not is_added(r["path"], index_dir)}
        db.close()
    except (NewsIndexError, OSError, Exception):
        return True
    now = {str(p): store.file_sha256(p) for p in iter_seed_files(sources)}
    return (
        files != now
        or manifest.get("model") != config.model
        or manifest.get("max_passage_chars") != config.max_passage_chars
    )
