"""Print the table in docs/telegram.md: where the 'what's new' phrasings, the topical ones and the ordinary questions are routed.

    python bench/whats_new_routes.py
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.text import CHINA_TZ  # noqa: E402
from bot.analysis.whatsnew import asked_window, is_whats_new, topic_of  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
NOW = datetime(2020, 2, 10, 9, 0, tzinfo=CHINA_TZ)  # any fixed time: only whether a window is named counts
ROUTES = ("headlines of the dates asked", "newest headlines", "a topic's headlines", "search")


def route(question: str) -> str:
    if topic_of(question):
        return "a topic's headlines"
    if not is_whats_new(question):
        return "search"
    return "headlines of the dates asked" if asked_window(question, NOW) else "newest headlines"


def main() -> None:
    print("| list | " + " | ".join(ROUTES) + " |")
    print("|---" * (len(ROUTES) + 1) + "|")
    for name, label in (("whats_new_questions.txt", "30 'what's new' phrasings"),
                        ("whats_new_topic_questions.txt", "30 topical 'what's new' phrasings"),
                        ("not_whats_new_questions.txt", "30 ordinary questions")):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        counts = Counter(route(q.split("\t")[0].strip()) for q in lines if q.strip() and not q.startswith("#"))
        print(f"| {label} | " + " | ".join(str(counts[r]) for r in ROUTES) + " |")


if __name__ == "__main__":
    main()
