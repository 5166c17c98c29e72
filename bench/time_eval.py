"""Does time handling find the right day's item? Recall@1 with and without it, on 新闻联播 2020 Q1.

Usage:
    python bench/time_eval.py [--limit 0]

The index is a lexical-only build (embed=False) of the 1,643 xwlb items of 2020-01 … 2020-03. The
questions ask for a title that recurs on different days (国内联播快讯 84 days, 国际联播快讯 90,
李克强主持召开国务院常务会议 12, 一线抗疫群英谱 11 …: every title on three days or more) on one of
those days, written five ways, each with its own reference time:

    "M月D日 <title>"         now = 2020-03-31 21:00
    "2020年M月D日 <title>"   now = 2020-03-31 21:00
    "今天 <title>"           now = that day 21:00
    "昨天 <title>"           now = the day after, 09:00
    "前天 <title>"           now = two days after, 09:00

A question is answered right (Recall@1) when the first hit belongs to an item with that title
published that day (China date). "without" asks the same question with no reference time (the
search before this feature: the time words are just words); "with" passes `now`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index import Retriever, build_index  # noqa: E402

CHINA = timezone(timedelta(hours=8))
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xwlb" / "xwlb-2020.jsonl"
END = datetime(2020, 3, 31, 21, 0, tzinfo=CHINA)


def questions(items: list[dict]) -> list[tuple[str, datetime, set[str], str]]:
    """(question, now, gold article ids, style) for every recurring title on every one of its days."""
    by_title_day: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for it in items:
        day = datetime.fromisoformat(it["published_at"]).astimezone(CHINA).date()
        by_title_day[it["title"]][day].add(it["id"])
    out = []
    for title, days in sorted(by_title_day.items()):
        if len(days) < 3:
            continue
        for day, ids in sorted(days.items()):
            at = lambda d, h: datetime(d.year, d.month, d.day, h, 0, tzinfo=CHINA)  # noqa: E731
            out += [
                (f"{day.month}月{day.day}日 {title}", END, ids, "M月D日"),
                (f"{day.year}年{day.month}月{day.day}日 {title}", END, ids, "YYYY年M月D日"),
                (f"今天 {title}", at(day, 21), ids, "今天"),
                (f"昨天 {title}", at(day + timedelta(days=1), 9), ids, "昨天"),
                (f"前天 {title}", at(day + timedelta(days=2), 9), ids, "前天"),
            ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (0: all)")
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"{DATA} is absent (../shared not checked out)", file=sys.stderr)
        return 1
    items = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    items = [it for it in items if it["published_at"] < "2020-04"]
    qs = questions(items)
    if args.limit:
        qs = qs[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "xwlb-2020q1.jsonl"
        seeds.write_text("\n".join(json.dumps(it, ensure_ascii=False) for it in items), encoding="utf-8")
        t = time.perf_counter()
        build_index([seeds], Path(tmp) / "index", None, embed=False, progress=False)
        print(f"indexed {len(items)} items (lexical only) in {time.perf_counter() - t:.1f} s; "
              f"{len(qs)} questions over {len({q[0].split(' ', 1)[1] for q in qs})} recurring titles")
        r = Retriever.load(Path(tmp) / "index")
        styles: dict[str, list[list[int]]] = defaultdict(lambda: [[], []])
        for question, now, gold, style in qs:
            for i, result in enumerate((r.search(question, k=1), r.search(question, k=1, now=now))):
                ok = bool(result.hits) and result.hits[0].passage.article_id in gold
                styles[style][i].append(ok)
                styles["all"][i].append(ok)
        r.close()
    print("\n| question form | n | Recall@1 without time handling | Recall@1 with |")
    print("|---|---|---|---|")
    for style, (without, with_) in styles.items():
        print(f"| {style} | {len(with_)} | {sum(without) / len(without):.3f} | {sum(with_) / len(with_):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
