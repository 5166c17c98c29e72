"""Access and secrets: admin-only commands, /reindex under load, the per-user question limit,
the token and webhook secret kept out of logs and replies, and the webhook's secret-token check.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import httpx
import pytest
from telegram import Update

from bot import admin, error_handling, groups
from bot.config import BotConfig, ConfigError, load_bot_config
from bot.ask import TOO_FAST
from tests.fakebotapi import ALICE, BOB, GROUP_CHAT, TOKEN, parse_html
from tests.fakeretriever import FakeRetriever
from tests.helpers import feed, started

QUESTION = "社区防控要突出什么"
SECRET = "webhook-Secret_0123456789"
ADMIN = {"id": 4242, "is_bot": False, "first_name": "Root"}



# --- admin commands --------------------------------------------------------------------------


def test_admins_come_from_the_telegram_table():
    config = load_bot_config({"admins": [4242, 7], "questions_per_minute": 5}, {})
    assert config.admins == frozenset({4242, 7}) and config.questions_per_minute == 5
    with pytest.raises(ConfigError):
        load_bot_config({"admins": ["4242"]}, {})
    with pytest.raises(ConfigError):
        load_bot_config({"questions_per_minute": -1}, {})


@pytest.mark.parametrize("admins", [frozenset(), frozenset({ADMIN["id"]})])
@pytest.mark.parametrize("command", ["/stats", "/reindex", "/stats all", "/reindex now"])
async def test_admin_commands_are_refused_to_everyone_else(
    make_bot, fake_bot_api, handler_errors, admins, command
):
    built = []
    application = make_bot(FakeRetriever(), admins=admins, reindex=lambda: built.append(1))
    async with started(application):
        await feed(application, fake_bot_api.message_update(command, user=ALICE))
        await feed(application, fake_bot_api.message_update(command, chat=GROUP_CHAT, user=BOB))
    assert fake_bot_api.texts() == [admin.REFUSED, admin.REFUSED]
    assert built == [] and handler_errors == []


async def test_stats_shows_the_index_figures_and_usage_to_an_admin(make_bot, fake_bot_api, handler_errors):
    application = make_bot(FakeRetriever(label="v-1"), admins=frozenset({ADMIN["id"]}))
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))
        await feed(application, fake_bot_api.message_update("/stats", user=ADMIN, chat={"id": ADMIN["id"], "type": "private", "first_name": "Root"}))
    text = fake_bot_api.texts()[-1]
    assert "articles: 2" in text and "version: v-1" in text
    assert "questions: 1" in text and "not_found: 1" in text
    assert handler_errors == []


async def test_forget_is_allowed_to_a_configured_admin_in_any_group(make_bot, fake_bot_api, handler_errors):
    application = make_bot(FakeRetriever(), admins=frozenset({ADMIN["id"]}))
    async with started(application):
        await feed(application, fake_bot_api.message_update("大家好", chat=GROUP_CHAT, user=BOB))
        await feed(application, fake_bot_api.message_update("/forget", chat=GROUP_CHAT, user=BOB))
        await feed(application, fake_bot_api.message_update("/forget", chat=GROUP_CHAT, user=ADMIN))
    assert fake_bot_api.texts() == [groups.FORGET_REFUSED, groups.FORGOTTEN.format(n=1)]
    assert handler_errors == []


class Tracked(FakeRetriever):
    """A fake retriever whose searches can be held until released, recording who answered."""

    def __init__(self, label: str, hold: str | None = None):
        super().__init__(label=label)
        self.hold = hold
        self.holding = threading.Event()
        self.release = threading.Event()

    def search(self, query, k=3, now=None):
        if query == self.hold:
            self.holding.set()
            assert self.release.wait(30), "never released"
        return super().search(query, k)

    def latest(self, n=10, keyword=None):
        return [h.__class__(f"{self.label}:{h.title}", h.published_at) for h in super().latest(n, keyword)]


async def test_reindex_swaps_the_index_while_questions_are_answered(
    make_bot, fake_bot_api, handler_errors
):
    old, new = Tracked("old", hold="进行中的问题"), Tracked("new")
    building, finish = threading.Event(), threading.Event()

    def rebuild():
        building.set()
        assert finish.wait(30), "build never finished"
        return new

    application = make_bot(
        old, admins=frozenset({ADMIN["id"]}), reindex=rebuild, questions_per_minute=0
    )
    admin_chat = {"id": ADMIN["id"], "type": "private", "first_name": "Root"}
    async with started(application):
        in_flight = asyncio.create_task(feed(application, fake_bot_api.message_update("进行中的问题")))
        assert await asyncio.to_thread(old.holding.wait, 10)
        reindexing = asyncio.create_task(feed(application, fake_bot_api.message_update("/reindex", user=ADMIN, chat=admin_chat)))
        assert await asyncio.to_thread(building.wait, 10)
        # During the build: questions are answered, from the old index; a second /reindex waits.
        await feed(application, fake_bot_api.message_update("重建时的问题", user=BOB))
        await feed(application, fake_bot_api.message_update("/reindex", user=ADMIN, chat=admin_chat))
        finish.set()
        await reindexing
        assert application.bot_data["services"].news.retriever is new
        await feed(application, fake_bot_api.message_update("重建后的问题", user=BOB))
        # The search that started before the swap finishes on the object it started with.
        old.release.set()
        await in_flight

    assert sorted(old.searches) == sorted(["进行中的问题", "重建时的问题"])
    assert new.searches == ["重建后的问题"]
    texts = fake_bot_api.texts()
    during = next(t for t in texts if "重建时的问题" in t)
    after = next(t for t in texts if "重建后的问题" in t)
    in_flight_text = next(t for t in texts if "进行中的问题" in t)
    assert "old:" in during and "new:" not in during
    assert "new:" in after and "old:" not in after
    assert "old:" in in_flight_text and "new:" not in in_flight_text  # never a mix
    assert admin.REINDEX_BUSY in texts and any(t.startswith("索引已更新") for t in texts)
    assert application.bot_data["services"].usage["reindex"] == 1
    assert handler_errors == []


async def test_reindex_with_the_real_index_builder(make_bot, fake_bot_api, handler_errors, tmp_path, default_encoder, project_config):
    """/reindex through index.build_index and Retriever.load: a new seed article becomes findable."""
    import json
    from pathlib import Path

    from index import Retriever, build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    root = Path(__file__).resolve().parents[1]
    index_dir = tmp_path / "index"
    sources = [root / "seeds", seeds]
    build_index(sources, index_dir, default_encoder, project_config.index, embed=False, progress=False)
    first = Retriever.load(index_dir, default_encoder, project_config.retrieval)

    def rebuild():
        build_index(sources, index_dir, default_encoder, project_config.index, embed=False, progress=False)
        return Retriever.load(index_dir, default_encoder, project_config.retrieval)

    application = make_bot(first, admins=frozenset({ADMIN["id"]}), reindex=rebuild)
    article = {"id": "flood-1", "title": "江城防汛工程全面加固", "published_at": "2020-02-10T08:30:00+08:00",
               "source": "测试日报", "body": "江城防汛工程的堤坝加固长度达到三十公里，沿江十二个泵站全部完成改造。"}
    question = "江城防汛工程的堤坝加固长度达到多少公里"
    admin_chat = {"id": ADMIN["id"], "type": "private", "first_name": "Root"}
    async with started(application):
        await feed(application, fake_bot_api.message_update(question))
        (seeds / "new.jsonl").write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
        await feed(application, fake_bot_api.message_update("/reindex", user=ADMIN, chat=admin_chat))
        await feed(application, fake_bot_api.message_update(question))
    before, after = fake_bot_api.texts(ALICE["id"])
    assert before.startswith("抱歉，没有找到") and "三十公里" in after
    assert application.bot_data["services"].news.retriever is not first
    application.bot_data["services"].news.retriever.close()
    first.close()
    assert handler_errors == []


# --- per-user question limit -------------------------------------------------------------------


async def test_a_flooding_user_gets_one_notice_and_cannot_starve_the_group(
    make_bot, fake_bot_api, handler_errors
):
    application = make_bot(FakeRetriever(), questions_per_minute=3)
    async with started(application):
        for n in range(8):
            await feed(application, fake_bot_api.message_update(f"/ask 问题{n}", chat=GROUP_CHAT, user=ALICE))
        await feed(application, fake_bot_api.message_update("/ask 鲍勃的问题", chat=GROUP_CHAT, user=BOB))
    texts = fake_bot_api.texts()
    assert [t for t in texts if t.startswith("抱歉，没有找到")][:3] == [
        f"抱歉，没有找到能回答“问题{n}”的内容。" + texts[0].split("的内容。", 1)[1] for n in range(3)
    ]
    assert texts.count(TOO_FAST.format(n=3)) == 1  # one notice, then silence
    assert len(texts) == 5 and "鲍勃的问题" in texts[-1]
    assert application.bot_data["services"].usage["rate_limited"] == 5
    application.bot_data["services"].clock.advance(60)  # a minute later Alice may ask again
    async with application:
        await feed(application, fake_bot_api.message_update("/ask 一分钟后的问题", chat=GROUP_CHAT, user=ALICE))
    assert "一分钟后的问题" in fake_bot_api.texts()[-1]
    assert handler_errors == []


def test_the_question_limit_slides_and_forgets_idle_users():
    from bot.limits import QuestionLimiter, Verdict

    limiter = QuestionLimiter(2)
    assert [limiter.check(1, t) for t in (0, 1, 2, 3)] == [
        Verdict.ANSWER, Verdict.ANSWER, Verdict.NOTIFY, Verdict.DROP
    ]
    assert limiter.check(1, 60.5) is Verdict.ANSWER  # the first question left the window
    assert QuestionLimiter(0).check(1, 0) is Verdict.ANSWER


# --- secrets -----------------------------------------------------------------------------------


async def test_token_and_webhook_secret_never_reach_logs_or_users(
    make_bot, fake_bot_api, fast_limiter, caplog
):
    class Leaky(FakeRetriever):
        def search(self, query, k=3, now=None):
            raise RuntimeError(f"failed to reach https://api.telegram.org/bot{TOKEN}/x?secret={SECRET}")

    caplog.set_level(logging.DEBUG)  # httpx logs every URL (with the token) at INFO
    # What python -m bot installs at start-up, before the Application (PTB logs its file URL,
    # token included, at DEBUG when the Bot is made).
    flt = error_handling.redact_logs(TOKEN, SECRET)
    try:
        application = make_bot(Leaky(), rate_limiter=fast_limiter, questions_per_minute=0)
        # Connection errors whose text holds the URL, retried then given up; then a bug whose
        # message holds both secrets.
        fake_bot_api.fail("sendMessage", "connect_error", times=4)
        async with started(application):
            await feed(application, fake_bot_api.message_update("/latest"))
            await feed(application, fake_bot_api.message_update(QUESTION))
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(flt)

    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "<TOKEN>" in logged and "cannot connect to" in logged  # the error path ran and was logged
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged
    assert SECRET not in logged
    sent = [c.params for c in fake_bot_api.calls if c.method == "sendMessage"]
    assert sent and all(TOKEN not in p["text"] and SECRET not in p["text"] for p in sent)
    assert fake_bot_api.texts() == [error_handling.APOLOGY]  # the bug's reply says nothing of the cause


def test_webhook_mode_refuses_to_start_without_a_secret():
    with pytest.raises(ConfigError):
        BotConfig(token="1:x", webhook_url="https://bot.example.com/telegram")
    with pytest.raises(ConfigError):
        load_bot_config({"webhook_url": "https://bot.example.com/telegram"}, {"TELEGRAM_BOT_TOKEN": "1:x"})
    with pytest.raises(ConfigError):
        load_bot_config({"webhook_secret": SECRET}, {})  # never in the file


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_webhook_server_rejects_requests_without_the_secret_token(
    make_bot, fake_bot_api, handler_errors
):
    """A real HTTP server on loopback (PTB's tornado webhook), real requests to it."""
    application = make_bot(FakeRetriever())
    port = _free_port()
    async with started(application):
        await application.updater.start_webhook(
            listen="127.0.0.1", port=port, url_path="telegram", secret_token=SECRET,
            webhook_url="https://bot.example.com/telegram", allowed_updates=Update.ALL_TYPES,
        )
        await application.start()
        try:
            url = f"http://127.0.0.1:{port}/telegram"
            async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                no_secret = await client.post(url, json=fake_bot_api.message_update("没有密钥"))
                wrong = await client.post(
                    url, json=fake_bot_api.message_update("错误密钥"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": "guess"},
                )
                right = await client.post(
                    url, json=fake_bot_api.message_update("正确密钥"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
            for _ in range(100):
                if fake_bot_api.sent("sendMessage"):
                    break
                await asyncio.sleep(0.05)
        finally:
            await application.updater.stop()
            await application.stop()

    [set_webhook] = fake_bot_api.sent("setWebhook")
    assert set_webhook["secret_token"] == SECRET
    assert no_secret.status_code == 403 and wrong.status_code == 403 and right.status_code == 200
    assert SECRET not in no_secret.text + wrong.text
    texts = fake_bot_api.texts()
    assert len(texts) == 1 and "正确密钥" in texts[0]
    assert parse_html(fake_bot_api.sent()[0]["text"])[1] == []
    assert handler_errors == []
