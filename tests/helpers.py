"""Helpers the test files share (fixtures are in conftest.py; fakes in fakebotapi.py, fakeretriever.py)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

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
    """``config`` with an answer line fitted for ``index.encoder.HashEncoder`` instead of the real model.

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
    )
