"""Peak memory and time of a lexical-only build of many short templated articles (issue 23 item 3).

Each size is built in a fresh child process (embed_on_build false, no model loaded), so its peak
RSS (getrusage of the child) is that build's alone. The articles are the issue's template,
{"title": "标题{i}", "body": "第{i}条正文。"}, all published at the same time: every one is a
near-duplicate candidate of every other, the worst case for the duplicate detection.

Usage:
    python bench/build_memory.py [--sizes 20000 50000 200000] [--code DIR]

--code runs the build with another checkout's `index` package (e.g. /work/main for the figures
before a change); the default is this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, logging
sys.path.insert(0, sys.argv[1])
from index import IndexConfig, build_index
logging.disable(logging.WARNING)
report = build_index([sys.argv[2]], sys.argv[3], config=IndexConfig(embed_on_build=False), embed=False,
                     progress=False)
print(report.to_dict().get("passages"), file=sys.stderr)
"""


def write_corpus(path: Path, n: int) -> None:
    """The issue's templated articles, one JSON object a line, all with the same date."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"a{i}", "title": f"标题{i}", "body": f"第{i}条正文。",
                                "published_at": "2024-01-01T08:00:00+08:00"}, ensure_ascii=False) + "\n")


def run(code: Path, n: int, work: Path) -> tuple[float, float, int, str]:
    """Build n articles in a child: (peak RSS MiB, seconds, exit code, last stderr line)."""
    corpus = work / f"short-{n}.jsonl"
    write_corpus(corpus, n)
    log = work / f"stderr-{n}.txt"
    start = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(code), str(corpus), str(work / f"index-{n}")],
                                stdout=subprocess.DEVNULL, stderr=err, cwd=code)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the largest of all so far).
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = (log.read_text(errors="replace").strip().splitlines() or [""])[-1][:120]
    return usage.ru_maxrss / 1024, seconds, proc.returncode, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000, 200_000])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose `index` package builds")
    args = parser.parse_args()
    print(f"code: {args.code.resolve()}")
    print(f"{'articles':>9} {'file MB':>8} {'peak RSS MiB':>13} {'seconds':>8} {'MiB/1k art':>11}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):
            work = Path(tmp)
            peak, seconds, rc, tail = run(args.code.resolve(), n, work)
            size = (work / f"short-{n}.jsonl").stat().st_size / 1e6
            result = f"ok ({tail} passages)" if rc == 0 else f"exit {rc}: {tail}"
            print(f"{n:>9,} {size:>8.1f} {peak:>13.0f} {seconds:>8.1f} {peak / n * 1000:>11.2f}  {result}", flush=True)


if __name__ == "__main__":
    main()
