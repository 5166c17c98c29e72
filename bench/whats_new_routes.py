"""Print the README table: where the 'what's new' phrasings and the ordinary questions are routed.

    python bench/whats_new_routes.py
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.text import CHINA_TZ  # noqa: E402
from bot.analysis.whatsnew import asked_window, is_whats_new  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
NOW = datetime(2020, 2, 10, 9, 0, tzinfo=CHINA_TZ)  # any fixed time: only whether a window is named counts


def route(question: str) -> str:
    if not is_whats_new(question):
        return "search"
    return "headlines of the dates asked" if asked_window(question, NOW) else "newest headlines"


def main() -> None:
    print("| list | headlines of the dates asked | newest headlines | search |")
    print("|---|---|---|---|")
    for name, label in (("whats_new_questions.txt", "30 'what's new' phrasings"),
                        ("not_whats_new_questions.txt", "30 ordinary questions")):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        counts = Counter(route(q.strip()) for q in lines if q.strip() and not q.startswith("#"))
        print(f"| {label} | {counts['headlines of the dates asked']} | {counts['newest headlines']} | {counts['search']} |")


if __name__ == "__main__":
    main()
