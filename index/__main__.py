"""Command line: `python -m index build|add|remove|embed|stats|search|milvus-sync`.

Usage:
    python -m index build [SEEDS…] [--rebuild] [--no-embed]
    python -m index add FILE|URL…        (seed files, RSS/Atom feeds, article pages)
    python -m index remove ARTICLE_ID…
    python -m index embed
    python -m index stats [--verify]
    python -m index search "问题" [-k 3]
    python -m index search --json < questions.txt
    python -m index milvus-sync [--rebuild]   (mirror the current version into [index] milvus_uri)
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from index.config import Config, load_config
from index.errors import NewsIndexError
from index.typedconfig import ConfigError

logger = logging.getLogger("index")


def _encoder(args, cfg: Config, needed: bool = True):
    """The encoder main() was given, else the one [index] model names; None when not needed."""
    if not needed:
        return None
    if args.encoder is not None:
        return args.encoder
    from index.models.encoder import encoder_for

    return encoder_for(cfg.index)


def cmd_build(args, cfg: Config) -> int:
    from index.writer import add_to_index, build_index, write_new_articles

    embed = cfg.index.embed_on_build and not args.no_embed
    if args.command == "build":
        # Everything added before (<index dir>/added/) is read with the seeds.
        report = build_index([Path(s) for s in args.sources] or cfg.index.seeds, cfg.index.dir,
                             _encoder(args, cfg, embed), cfg.index, embed=embed, rebuild=args.rebuild)
        print(report.summary())
        return 0
    files, batches = _read_sources(args.sources, args.timeout)
    # One version for the lot: the fetched articles the index lacks are written under <index dir>/added/
    # and added with the files (each kept there too); if the add fails, nothing is left behind.
    written = write_new_articles(batches, cfg.index.dir)
    for source, articles in batches.items():
        print(f"{source}: {len(articles)} articles, {written.get(source, (None, 0))[1]} new")
    if not files and not written:
        print("nothing new to add")
        return 0
    try:
        report = add_to_index([*files, *(path for path, _ in written.values())], cfg.index.dir,
                              _encoder(args, cfg, embed), cfg.index, embed=embed, seeds=cfg.index.seeds)
    except BaseException:
        for path, _ in written.values():
            path.unlink(missing_ok=True)
        raise
    print(report.summary())
    return 0


def _read_sources(given: list[str], timeout: float) -> tuple[list[Path], dict[str, list]]:
    """Seed files as they are; URLs, feed files and HTML pages parsed into articles (a source that fails is named)."""
    from index.errors import FeedError
    from index.ingest.pages import FEED_SUFFIXES, PAGE_SUFFIXES

    files, batches = [], {}
    for source in given:
        path = Path(source)
        if not source.startswith(("http://", "https://")) and path.suffix.lower() not in FEED_SUFFIXES | PAGE_SUFFIXES:
            files.append(path)
            continue
        try:
            batches[source] = _read_source(source, timeout)
        except FeedError as e:
            raise FeedError(f"{source}: {e}") from None
    return files, batches


def _read_source(source: str, timeout: float) -> list:
    """The articles of a feed or page URL, or of a saved feed or page file."""
    from index.ingest.fetch import fetch, read_file
    from index.ingest.pages import FEED_SUFFIXES, parse

    if source.startswith(("http://", "https://")):
        r = fetch(source, timeout=timeout)
        return parse(r.content, source, r.content_type)
    path = Path(source)
    hint = "application/xml" if path.suffix.lower() in FEED_SUFFIXES else ""
    return parse(read_file(path), path.resolve().as_uri(), hint)


def cmd_remove(args, cfg: Config) -> int:
    from index.writer import remove_from_index
    from index.store.versions import current_version

    report = remove_from_index(args.ids, cfg.index.dir, cfg.index)
    print(report.summary())
    return 0 if current_version(cfg.index.dir) else 1


def cmd_embed(args, cfg: Config) -> int:
    from index.writer import embed_missing

    done = embed_missing(cfg.index.dir, _encoder(args, cfg), cfg.index)
    print(f"embedded {done} passages")
    return 0


def cmd_stats(args, cfg: Config) -> int:
    from index.search.retriever import Retriever

    t = time.perf_counter()
    r = Retriever.load(cfg.index.dir, verify=args.verify, index_config=cfg.index)
    stats = r.stats() | {"vector_index": r.vector_index, "load_seconds": round(time.perf_counter() - t, 2)}
    if cfg.index.backend == "milvus":
        from index.store.milvus import read_sync

        stats["milvus"] = read_sync(cfg.index.dir)
    if args.verify:
        stats["verified"] = "sizes and SHA-256 of every file"
    print(json.dumps(stats, ensure_ascii=False, indent=2))
    return 0


def _retriever(args, cfg: Config, lexical_only: bool):
    from index.search.retriever import Retriever
    from index.store.versions import read_manifest, require_version

    manifest = read_manifest(require_version(cfg.index.dir))
    encoder = None if lexical_only or not manifest["counts"].get("vectors") else _encoder(args, cfg)
    return Retriever.load(cfg.index.dir, encoder, cfg.retrieval, index_config=cfg.index)


def cmd_milvus_sync(args, cfg: Config) -> int:
    from index.store.milvus import sync_index
    from index.store.versions import write_lock

    with write_lock(cfg.index.dir):
        report = sync_index(cfg.index.dir, cfg.index, rebuild=args.rebuild)
    print(json.dumps(report, indent=2))
    return 0


MAX_LINE_BYTES = 64 * 1024  # a question is a sentence or two (the search reads 500 characters of it)


def _stdin_questions(stream) -> Iterator[str]:
    """Lines of a byte stream as text, at most MAX_LINE_BYTES each (the rest of a longer line is skipped).

    Bytes that are not UTF-8 become U+FFFD and the line is named on stderr: the other questions are
    still answered, and the operator learns which line was damaged.
    """
    number = 0
    while line := stream.readline(MAX_LINE_BYTES):
        number += 1
        cut = not line.endswith(b"\n")
        if cut:
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # a line longer than any question: its tail is dropped, in bounded pieces
        try:
            # final=False: the character the cut went through is dropped, not reported as damage.
            yield codecs.getincrementaldecoder("utf-8")().decode(line, final=not cut)
        except UnicodeDecodeError:
            print(f"warning: stdin line {number} is not valid UTF-8; undecodable bytes replaced", file=sys.stderr)
            yield line.decode("utf-8", errors="replace")


def cmd_search(args, cfg: Config) -> int:
    r = _retriever(args, cfg, args.lexical)
    if args.json:
        for line in _stdin_questions(sys.stdin.buffer):
            question = line.strip()
            if not question:
                continue
            result = r.search(question, k=args.k)
            print(json.dumps([h.to_json() for h in result.hits], ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        print("search: give a question, or --json to read questions from stdin", file=sys.stderr)
        return 2
    t = time.perf_counter()
    result = r.search(" ".join(args.question), k=args.k)
    ms = (time.perf_counter() - t) * 1000
    if not result.found:
        print("没有找到相关段落。最接近的标题:")
        for h in result.nearest_headlines:
            print(f"  - {h.title} ({h.published_at or '无日期'})")
    for h in result.hits:
        p = h.passage
        print(f"#{h.rank}  score {h.score:.3f}  {p.kind}  {p.title}  {p.published_at or ''}  {p.source or ''}")
        print(f"    {p.text}")
        print(f"    ▶ {h.best_sentence}\n")
    print(f"({ms:.0f} ms)", file=sys.stderr)
    return 0


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, got {text!r}")
    return value


def main(argv: list[str] | None = None, *, encoder: object | None = None) -> int:
    """Run the index command line; `encoder` instead of the model config.toml names (tests pass a fake)."""
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and search the news index.")
    parser.add_argument("--config", default="config.toml", help="config file (default: config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "add"):
        p = sub.add_parser(name, help=f"{name} seed files or folders" + (", feeds, pages or URLs" if name == "add" else ""))
        p.add_argument("sources", nargs="*" if name == "build" else "+")
        if name == "build":
            p.add_argument("--rebuild", action="store_true", help="ignore the current index (new model, say)")
        p.add_argument("--no-embed", action="store_true", help="lexical leg only; embed later with `embed`")
        if name == "add":
            p.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per URL fetch (default 10)")
        p.set_defaults(func=cmd_build)
    p = sub.add_parser("remove", help="remove articles by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_remove)
    sub.add_parser("embed", help="embed passages that have no vector yet (resumable)").set_defaults(func=cmd_embed)
    p = sub.add_parser("stats", help="print index figures")
    p.add_argument("--verify", action="store_true", help="also check every file's SHA-256 against the manifest")
    p.set_defaults(func=cmd_stats)
    p = sub.add_parser("search", help="search the index")
    p.add_argument("question", nargs="*")
    p.add_argument("-k", type=int, default=3)
    p.add_argument("--json", action="store_true", help="read questions from stdin, write JSON lines")
    p.add_argument("--lexical", action="store_true", help="BM25 only (no model load)")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("milvus-sync", help="mirror the current version into Milvus ([index] milvus_uri)")
    p.add_argument("--rebuild", action="store_true", help="drop the collection and fill it again")
    p.set_defaults(func=cmd_milvus_sync)
    args = parser.parse_args(argv)
    args.encoder = encoder
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    try:
        return args.func(args, cfg)
    except NewsIndexError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a missing or unreadable file: one line, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
