"""Helpers the test files share (fixtures are in conftest.py; fakes in fakebotapi.py, fakeretriever.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from telegram import Update

from index.config import RetrievalConfig


async def feed(application, update: dict) -> None:
    """Hand one update to the application, as polling or a webhook would."""
    await application.process_update(Update.de_json(update, application.bot))


@contextlib.asynccontextmanager
async def started(application) -> AsyncIterator[object]:
    """The application initialized and its post_init done (menus, jobs, the index service), as at start-up."""
    async with application:
        await application.post_init(application)
        yield application


class FakeClock:
    """Monotonic seconds that move only when a test moves them: the bot's ``bot_data["services"].clock``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


class Shared:
    """A session-wide retriever lent to one test's bot: everything goes through but ``close``.

    A bot closes its index at shutdown (``post_shutdown``); the next test must still find it open.
    """

    def __init__(self, retriever: object) -> None:
        self._retriever = retriever

    def __getattr__(self, name: str):
        return getattr(self._retriever, name)

    def close(self) -> None:
        """Leave the retriever open: the session fixture closes it."""


def hash_retrieval(config: RetrievalConfig) -> RetrievalConfig:
    """``config`` with an answer line fitted for ``tests.hashencoder.HashEncoder`` instead of the real model.

    The configured answerability weights are calibrated on the real model's cosines; a hash of
    character bigrams gives unrelated texts cosines of 0.1–0.4 and related ones hardly more, so on
    that scale nothing would be "found". Here the line rests on the lexical evidence alone, which
    does not depend on the encoder: coverage (the IDF-weighted share of the question's topic words
    in the passage) and bm25_ratio. On the seed index, p = sigmoid(10·coverage + 2·bm25_ratio − 4):
    "社区防控要突出什么" (coverage 1.0, bm25_ratio 0.42) gets p ≈ 1.0 and is answered; "巴西足球比赛的
    比分是多少" and "口罩产量是多少" (coverage 0, bm25_ratio ≤ 0.2) get p < 0.05 and are not found;
    between 0.2 and 0.5 (coverage about 0.2–0.35) an answer is hedged.
    """
    return dataclasses.replace(
        config,
        answer_weights={"coverage": 10.0, "bm25_ratio": 2.0},
        answer_bias=-4.0,
        answer_at=0.5,
        hedge_at=0.2,
        decision="model",  # the calibrated rule reads e5's cosines; a hash of bigrams has none to read
    )


SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def jsonl(path: Path, articles: list[dict]) -> Path:
    """Write articles as a JSONL seed file."""
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return path


def numbered_article(i: int, body: str | None = None, **kw) -> dict:
    """A small dated article "n<i>" with two paragraphs."""
    return {"id": f"n{i}", "title": f"第{i}号新闻标题", "published_at": f"2020-03-{i:02d}T10:00:00+08:00",
            "source": "测试社", "url": None, "body": body or f"这是第{i}条新闻的第一段。\n第{i}条新闻的第二段讲了别的事。", **kw}


def seed_folder(tmp_path: Path) -> Path:
    """A seeds folder: the given seed page and five numbered articles."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy(SEEDS / "000_eb63601c10643f4d.txt", folder)
    shutil.copy(SEEDS / "000_eb63601c10643f4d.meta.json", folder)
    jsonl(folder / "news.jsonl", [numbered_article(i) for i in range(1, 6)])
    return folder


def one_article_index(tmp_path: Path, article: dict) -> Path:
    """A lexical-only index of one article."""
    from index import IndexConfig, build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    jsonl(seeds / "seed.jsonl", [article])
    folder = tmp_path / "index"
    build_index([seeds], folder, None, IndexConfig(), embed=False, progress=False)
    return folder
