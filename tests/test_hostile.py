"""Hostile and odd input: strange questions, wrong command arguments, non-text updates, fuzzing.

Nothing may crash a handler (the error handlers never see an error), and every request the bot
makes passes the fake Bot API's checks (valid Telegram HTML, 1-4096 characters…), which the
``fake_bot_api`` fixture enforces. Part of it runs on the seed index (hash-embedded); the fuzz run of
generated updates uses tests/fakeretriever.py, whose passages carry HTML and Markdown specials.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import formatting, groups
from bot.subscriptions import normalize_hhmm
from bot.ask import USAGE_ASK
from bot.handlers import parse_latest_args
from bot.html_split import split_message
from bot.questions import clean_question, is_askable
from index.schema import Headline
from index.store import lexical
from index.store.lexical import LexicalIndex
from tests.fakebotapi import ALICE, BOB, GROUP_CHAT, MAX_TEXT, PRIVATE_CHAT, parse_html, utf16_len
from tests.fakeretriever import HOSTILE_TITLE, FakeRetriever
from tests.helpers import feed, started

ROOT = Path(__file__).resolve().parents[1]

CHANNEL = {"id": -100777, "type": "channel", "title": "新闻频道"}
ZW = "\u200b\u200c\u200d\u2060\ufeff"
CONTROL = "".join(map(chr, range(1, 32))) + "\x7f"
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # what /latest takes for a keyword

HOSTILE_QUESTIONS = {
    "one character": "疫",
    "4096 characters": ("社区防控要突出什么" * 456)[:4096],
    "4096 with specials": ("<&>" * 1366)[:4096],
    "only emoji": "😀🔥🇨🇳👨‍👩‍👧",
    "only punctuation": "？！。，、；：……——",
    "only whitespace": " \u3000\t ",
    "zero-width only": ZW * 3,
    "zero-width inside": "社" + ZW + "区防控要突出什么",
    "control characters": CONTROL + "社区防控",
    "bidi override": "\u202e社区防控要突出什么\u202c",
    "mixed scripts": "COVID-19 疫情 коронавирус 코로나 كورونا 社區防控",
    "html link": '<a href="https://evil.example/">社区防控</a>',
    "html script": "<script>alert(1)</script>社区防控要突出什么",
    "markdown": "*_[社区防控](http://x) `code` ~~s~~ ||spoiler||",
    "entities": "&lt;b&gt; &amp; &#x41; &nbsp; &",
    "lone surrogate-ish": "社区\ufffd防控",
    "newlines": "社区防控\n\n\n要突出什么\r\n",
}



@pytest.fixture
async def hostile_bot(make_bot, hash_seed_retriever, fast_limiter):
    """The bot over the hash-embedded seed index, without flood limits or the per-user question limit."""
    application = make_bot(hash_seed_retriever, rate_limiter=fast_limiter, questions_per_minute=0)
    async with started(application):
        await application.post_init(application)
        yield application


@pytest.mark.parametrize("name", list(HOSTILE_QUESTIONS))
async def test_a_hostile_question_gets_one_sensible_reply(hostile_bot, fake_bot_api, handler_errors, name):
    text = HOSTILE_QUESTIONS[name]
    fake_bot_api.forget_calls()
    await feed(hostile_bot, fake_bot_api.message_update(text))
    await feed(hostile_bot, fake_bot_api.message_update("/ask " + text[:4000], chat=GROUP_CHAT))

    assert handler_errors == []
    replies = fake_bot_api.texts()
    assert len(replies) >= 2
    for reply in replies:
        assert reply.strip()
        assert not set(reply) & set(CONTROL.replace("\n", "")) and not set(reply) & set(ZW + "\u202e")
    if not is_askable(clean_question(text)):
        assert replies == [USAGE_ASK, USAGE_ASK]
    else:
        # An answer (maybe under the hedge) or "not found", never the raw markup of the question.
        assert all(r.startswith(("抱歉，没有找到", formatting.HEDGE)) or "——" in r or "社区防控" in r for r in replies)


WRONG_ARGUMENTS = [
    "/latest", "/latest 0", "/latest -1", "/latest 1e3", "/latest ９", "/latest ٣", "/latest 99999999999999999999",
    "/latest 疫情 疫情", "/latest 3 4 5", "/latest " + "疫" * 4000, "/latest <b>疫情</b>", "/latest &amp;",
    "/summary", "/summary 0", "/summary -5", "/summary 99999999999999999999h", "/summary 1e9d",
    "/summary " + "x" * 4000, "/summary " + "\x00" * 1000, "/summary today tomorrow", "/summary 2小时",
    "/digest on", "/digest on 25:61", "/digest on 8", "/digest on " + "<" * 3000, "/digest off now",
    "/digest off", "/digest maybe", "/digest ON 07:30", "/digest on 8：30",
    "/ask", "/ask    ", "/ask " + ZW, "/ask@news_test_bot", "/ask@other_bot 社区防控", "/forget", "/forget all",
    "/start extra args", "/help <b>", "/stats", "/reindex", "/unknown_command", "/", "//", "/ask\n\n社区防控",
]


@pytest.mark.parametrize("chat", [PRIVATE_CHAT, GROUP_CHAT], ids=["private", "group"])
async def test_commands_with_arguments_of_every_wrong_shape(hostile_bot, fake_bot_api, handler_errors, chat):
    for command in WRONG_ARGUMENTS:
        await feed(hostile_bot, fake_bot_api.message_update(command, chat=chat))
    assert handler_errors == []
    texts = fake_bot_api.texts()
    assert all(0 < utf16_len(t) <= MAX_TEXT for t in texts)
    assert any(t.startswith("用法：/latest") for t in texts)


def _media(fake) -> dict[str, dict]:
    """One update of each kind a user can send that is not plain text (spec-checked by the fake)."""
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    sticker = {"file_id": "s1", "file_unique_id": "u2", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False, "emoji": "😀"}
    poll = {"id": "poll1", "question": "<b>选哪个</b>", "total_voter_count": 0, "is_closed": False,
            "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
            "allows_revoting": False, "members_only": False,
            "options": [{"persistent_id": "o1", "text": "甲", "voter_count": 0},
                        {"persistent_id": "o2", "text": "乙", "voter_count": 0}]}
    origin = {"type": "user", "date": int(time.time()) - 60, "sender_user": BOB}
    out = {}
    for where, chat in (("private", PRIVATE_CHAT), ("group", GROUP_CHAT)):
        out |= {
            f"{where} sticker": fake.update(message=fake.message(chat, sticker=sticker)),
            f"{where} photo": fake.update(message=fake.message(chat, photo=photo, caption="社区防控要突出什么 <b>")),
            f"{where} voice": fake.update(message=fake.message(chat, voice={"file_id": "v1", "file_unique_id": "u3", "duration": 3})),
            f"{where} poll message": fake.update(message=fake.message(chat, poll=poll)),
            f"{where} location": fake.update(message=fake.message(chat, location={"latitude": 31.2, "longitude": 121.5})),
            f"{where} dice": fake.update(message=fake.message(chat, dice={"emoji": "🎲", "value": 6})),
            f"{where} forwarded": fake.update(message=fake.message(chat, text="社区防控要突出什么", forward_origin=origin)),
            f"{where} edited": fake.edited_update(fake.message_update("社区防控", chat=chat)["message"], "/ask 改过的问题"),
            f"{where} new members": fake.update(message=fake.message(chat, new_chat_members=[BOB])),
        }
    out |= {
        "channel post": fake.update(channel_post=fake.message(CHANNEL, user=None, text="/ask 社区防控要突出什么",
                                                          entities=[{"type": "bot_command", "offset": 0, "length": 4}])),
        "edited channel post": fake.update(edited_channel_post=fake.message(CHANNEL, user=None, text="改", edit_date=int(time.time()))),
        "poll": fake.update(poll=poll),
        "anonymous group admin": fake.update(message=fake.message(GROUP_CHAT, user=None, sender_chat=GROUP_CHAT, text="/forget",
                                                                  entities=[{"type": "bot_command", "offset": 0, "length": 7}])),
    }
    return out


async def test_non_text_updates_are_ignored_or_answered_sensibly(hostile_bot, fake_bot_api, handler_errors):
    fake_bot_api.forget_calls()
    updates = _media(fake_bot_api)
    for name, update in updates.items():
        before = len(fake_bot_api.sent())
        await feed(hostile_bot, update)
        replies = fake_bot_api.texts()[before:]
        if name == "private forwarded":
            assert len(replies) == 1  # forwarded text is a question like any other
        elif name == "anonymous group admin":
            assert replies and replies[0].startswith("已删除")
        else:
            assert replies == [], name
    assert handler_errors == []


@pytest.mark.parametrize("data", ["more:zz:abc", "more:x:99999999999999999999", "full:abc:5", "full:x:٣", "more:" + "a" * 50 + ":1", "junk"])
async def test_button_presses_with_stale_or_forged_data(hostile_bot, fake_bot_api, handler_errors, data):
    await feed(hostile_bot, fake_bot_api.message_update("社区防控要突出什么"))
    message = fake_bot_api.calls[-1].result
    await feed(hostile_bot, fake_bot_api.callback_update(data, message))
    assert handler_errors == []
    assert len(fake_bot_api.sent("sendMessage")) == 1  # no new message for a forged button


# --- properties ------------------------------------------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(question=texts)
def test_not_found_replies_are_valid_telegram_html_for_any_question(question):
    for message in formatting.format_not_found(clean_question(question), []):
        plain, problems = parse_html(message)
        assert problems == [] and 0 < utf16_len(plain.strip()) <= MAX_TEXT


@settings(max_examples=300, deadline=None)
@given(words=st.lists(texts, max_size=4))
def test_latest_arguments_parse_or_raise_value_error(words):
    try:
        n, keyword = parse_latest_args(words, 10, 50)
    except ValueError:
        return
    assert 1 <= n <= 50 and (keyword is None or HAN.search(keyword))


@settings(max_examples=300, deadline=None)
@given(arg=texts)
def test_summary_windows_and_digest_times_parse_or_raise_value_error(arg):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        window = groups.parse_window(arg, now, max_count=2000, max_days=7)
    except ValueError as e:
        assert utf16_len(str(e)) < 400  # the error is shown to the user: short
    else:
        assert window.count is None or 1 <= window.count <= 2000
    try:
        assert len(normalize_hhmm(arg)) == 5
    except ValueError as e:
        assert utf16_len(str(e)) < 400


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(texts, max_size=30), limit=st.integers(200, 4096))
def test_split_messages_stay_valid_and_within_the_limit(parts, limit):
    html = "\n".join(f"<b>{formatting.esc(p)}</b>" if i % 2 else formatting.esc(p) for i, p in enumerate(parts))
    if not html.strip():
        return
    for message in split_message(html, limit):
        plain, problems = parse_html(message)
        assert problems == [] and len(message) <= limit


# --- fuzz --------------------------------------------------------------------------------------

FUZZ_SEED = 20261130
FUZZ_UPDATES = 1000
PIECES = [
    "社区防控", "要突出什么", "疫情", "<b>", "</i>", "&", "&amp;", "*", "_", "[", "](", "`", "😀", "\u200b",
    "\x00", "\n", " ", "@news_test_bot", "@other", "/ask", "https://t.me/x?a=1&b=2", "٣", "９", "-1", "2h",
    "today", "on", "off", "08:00", "99999999999999999999", "\u202e", "코로나", "a" * 300, "疫" * 1500,
]
COMMANDS = ["/ask", "/latest", "/summary", "/digest", "/forget", "/start", "/help", "/stats", "/reindex", "/nope"]


def _fuzz_text(rng: random.Random) -> str:
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
    if rng.random() < 0.4:
        text = rng.choice(COMMANDS) + rng.choice(["", "@news_test_bot", "@other_bot"]) + " " + text
    return text[:4096] or "?"


def _fuzz_update(fake, rng: random.Random, sent_messages: list[dict], media: list[dict]) -> dict:
    roll = rng.random()
    chat = rng.choice([PRIVATE_CHAT, GROUP_CHAT])
    user = rng.choice([ALICE, BOB])
    if roll < 0.55:
        return fake.message_update(_fuzz_text(rng), chat=chat, user=user)
    if roll < 0.65:
        text = _fuzz_text(rng)
        return fake.mention_update(text[:4000] + " @news_test_bot", user=user)
    if roll < 0.75 and sent_messages:
        message = rng.choice(sent_messages)
        data = rng.choice(["more", "full", "x"]) + ":" + rng.choice(["00000000", "zz", "a" * 20]) + ":" + str(rng.randint(0, 12))
        return fake.callback_update(data[:64], message, user=user)
    if roll < 0.85:
        original = fake.message_update(_fuzz_text(rng), chat=chat, user=user)["message"]
        return fake.edited_update(original, _fuzz_text(rng))
    if roll < 0.9 and sent_messages:
        reply_to = rng.choice([m for m in sent_messages if m["chat"]["id"] == GROUP_CHAT["id"]] or sent_messages)
        return fake.message_update(_fuzz_text(rng), chat=reply_to["chat"], user=user, reply_to=reply_to)
    # Media and channel posts get fresh ids: reuse their shapes.
    template = rng.choice(media)
    return {**template, "update_id": template["update_id"] + 100_000 + rng.randint(0, 10**6)}


async def test_fuzz_a_thousand_generated_updates(make_bot, fake_bot_api, handler_errors, fast_limiter):
    """1,000 seeded random updates through the Application: no handler error, no bad request."""
    rng = random.Random(FUZZ_SEED)
    retriever = FakeRetriever(found_every=3, seed=FUZZ_SEED)
    application = make_bot(
        retriever, rate_limiter=fast_limiter, questions_per_minute=0,
        admins=frozenset({ALICE["id"]}), reindex=lambda: FakeRetriever(found_every=2, label="fuzz-2"),
    )
    fake_bot_api.make_admin(GROUP_CHAT["id"], BOB)
    media = list(_media(fake_bot_api).values())
    began = time.monotonic()
    async with started(application):
        for _ in range(FUZZ_UPDATES):
            sent = [c.result for c in fake_bot_api.calls[-50:] if c.method == "sendMessage" and c.delivered]
            await feed(application, _fuzz_update(fake_bot_api, rng, sent, media))
            if time.monotonic() - began > 90:
                pytest.fail("the fuzz run is too slow: make it smaller rather than the suite longer")
    assert handler_errors == [], handler_errors[:3]
    assert len(fake_bot_api.sent("sendMessage")) > 300
    assert any(HOSTILE_TITLE.split(">")[0] in c["text"] or "&lt;a href" in c["text"] for c in fake_bot_api.sent())


# --- bounded questions (BM25) ------------------------------------------------------------------

def _old_scores(index, tokens):
    """BM25 as LexicalIndex.scores computed it before repeats were counted: postings once per occurrence."""
    rows, values = [], []
    for t in tokens:
        for s in index.segments:
            i = s.ids.get(t)
            if i is not None:
                a, b = int(s.indptr[i]), int(s.indptr[i + 1])
                tf = np.asarray(s.tf[a:b])
                rows.append(np.asarray(s.rows[a:b]))
                values.append(tf / (tf + index.length_norm[np.asarray(s.rows[a:b])]) * index.idf(t))
    if not rows:
        return np.zeros(index.n_docs, dtype=np.float32)
    return np.bincount(np.concatenate(rows), np.concatenate(values), minlength=index.n_docs).astype(np.float32)


def _corpus(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[f"w{min(int(rng.paretovariate(1.2)) - 1, 199)}" for _ in range(rng.choice([1, 3, 8, 20]))] for _ in range(n)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 1000), cuts=st.lists(st.integers(1, 150), max_size=4),
       query=st.lists(st.sampled_from(["w0", "w1", "w2", "w7", "w40", "w199", "unseen"]), max_size=12))
def test_repeated_question_words_score_as_before(seed, cuts, query):
    docs = _corpus(seed, 150)
    index = LexicalIndex.build(docs[: min(cuts, default=150)])
    for a, b in zip(sorted(cuts), [*sorted(cuts)[1:], 150]):
        index = index.append(docs[a:b])
    np.testing.assert_array_equal(index.scores(query), _old_scores(index, query))


def test_a_word_repeated_4096_times_gathers_its_postings_once():
    index = LexicalIndex.build([["的", f"w{i}"] for i in range(2000)])
    tracemalloc.start()
    try:
        scores = index.scores(["的"] * 4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(scores, 4096 * index.scores(["的"]), rtol=1e-5)
    assert peak < 2_000_000  # the old code gathered 4,096 copies of the posting list: ~130 MB


def test_thousands_of_distinct_words_keep_only_the_rarest():
    common = [f"c{i}" for i in range(lexical.MAX_QUERY_TERMS + 50)]
    docs = [common[:] for _ in range(30)] + [["rare", "c0"], ["unique"]]
    index = LexicalIndex.build(docs)
    scores = index.scores([*common, "rare", "unique", *(f"nowhere{i}" for i in range(3000))])
    assert scores[30] > 0 and scores[31] > 0  # the rare words count, whatever else was asked
    kept = lexical.MAX_QUERY_TERMS - 2  # slots left for the common words; c0 (in 31 passages) is the first dropped
    assert scores[0] == pytest.approx(float(index.scores(common[1 : kept + 1])[0]), rel=1e-5)
    assert scores[0] < float(index.scores(common)[0])


def test_tokenizing_stops_at_a_length_cap():
    tokens = lexical.tokenize("的" * (lexical.MAX_TOKENIZE_CHARS + 5000) + "独一无二")
    assert len(tokens) <= lexical.MAX_TOKENIZE_CHARS and "独一无二" not in tokens
    assert lexical.tokenize("社区防控要突出什么") == ["社区", "防控", "要", "突出", "什么"]


# --- links and long replies from feed items ----------------------------------------------------

BAD_URLS = {
    "over 4,096 characters": "https://example.com/" + "a" * 5000,
    "javascript": "javascript:alert(document.cookie)",
    "javascript in capitals, padded": " JavaScript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "no scheme": "//evil.example/x",
}


class LinkRetriever(FakeRetriever):
    """Every headline, passage and article carries the given link; articles have `body_chars` of text."""

    def __init__(self, url: str | None, body_chars: int = 0):
        super().__init__(found_every=1)
        self.url, self.body_chars = url, body_chars

    def _passage(self, i):
        return dataclasses.replace(super()._passage(i), url=self.url)

    def latest(self, n=10, keyword=None):
        return [dataclasses.replace(h, url=self.url) for h in super().latest(n, keyword)]

    def article(self, article_id):
        article = super().article(article_id)
        if article is not None:
            article.url = self.url
            if self.body_chars:
                article.paragraphs = ["很长的段落没有句号" * 50] * (self.body_chars // 450)
        return article


def _hrefs(texts: list[str]) -> list[str]:
    return [h for t in texts for h in re.findall(r'<a href="([^"]*)"', t)]


async def _press_full(application, fake):
    message = next(c.result for c in reversed(fake.calls) if c.method == "sendMessage" and "reply_markup" in c.result)
    full = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
                if b["callback_data"].startswith("full:"))
    await feed(application, fake.callback_update(full, message))


@pytest.mark.parametrize("name", list(BAD_URLS))
async def test_a_bad_feed_link_never_breaks_a_reply_nor_becomes_a_link(make_bot, fake_bot_api, handler_errors,
                                                                       fast_limiter, name):
    application = make_bot(LinkRetriever(BAD_URLS[name]), rate_limiter=fast_limiter, questions_per_minute=0)
    async with started(application):
        for text in ("/latest", "/latest 标题", "社区防控要突出什么"):
            await feed(application, fake_bot_api.message_update(text))
        await _press_full(application, fake_bot_api)
        await feed(application, fake_bot_api.message_update("/digest", chat=GROUP_CHAT))
    assert handler_errors == []
    texts = fake_bot_api.texts()
    assert len(texts) == 5 and all(0 < utf16_len(t) <= MAX_TEXT for t in texts)
    html = [p["text"] for p in fake_bot_api.sent()]
    assert all(h.startswith(("http://", "https://")) and len(h) < 4096 for h in _hrefs(html))
    assert "标题" in texts[0] and "第一句" in texts[2] and "第一段" in texts[3]  # the text stays, only the link goes


async def test_a_huge_article_is_sent_in_a_few_messages_then_a_link(make_bot, fake_bot_api, handler_errors,
                                                                    fast_limiter):
    url = "https://news.example/long"
    application = make_bot(LinkRetriever(url, body_chars=2_400_000), rate_limiter=fast_limiter,
                                    questions_per_minute=0)
    async with started(application):
        await feed(application, fake_bot_api.message_update("社区防控要突出什么"))
        before = len(fake_bot_api.texts())
        await _press_full(application, fake_bot_api)
    assert handler_errors == []
    sent = [p["text"] for p in fake_bot_api.sent()][before:]
    assert 1 <= len(sent) <= formatting.MAX_ARTICLE_MESSAGES
    assert "余下" in sent[-1] and url in _hrefs(sent[-1:])


@pytest.mark.parametrize("url", ["https://a.example/x?y=1&z=2", "http://b.example/", "HTTPS://C.example/p"])
def test_ordinary_links_are_kept(url):
    line = formatting.headline_line(Headline("标题", None, url=url))
    assert _hrefs([line]) == [formatting.esc(url).replace('"', "&quot;")]


# --- echoed arguments --------------------------------------------------------------------------

@pytest.mark.parametrize("arg", ["1" * 5000, "<" * 3000, "８" * 4000, "12:" + "3" * 5000])
async def test_a_digest_time_of_thousands_of_characters_is_echoed_short(hostile_bot, fake_bot_api, handler_errors, arg):
    await feed(hostile_bot, fake_bot_api.message_update("/digest on " + arg, chat=GROUP_CHAT))
    assert handler_errors == []
    [reply] = fake_bot_api.texts()
    assert reply.startswith("时间") and utf16_len(reply) < 200 and "…" in reply


# --- secrets in uncaught tracebacks ------------------------------------------------------------

SECRET_TOKEN = "123456:SECRETtokenNeverPrinted"


MALFORMED_BASE_URLS = ["http://127.0.0.1:8081", "http://[::1"]


@pytest.fixture(scope="module")
def malformed_base_url_runs(tmp_path_factory):
    """``python -m bot`` with each malformed base URL, all started at once: each spends seconds
    waiting out its getMe retries before it crashes, and they need not wait in turn."""
    runs = {}
    for base_url in MALFORMED_BASE_URLS:
        folder = tmp_path_factory.mktemp("malformed-base-url")
        (folder / "seeds").mkdir()
        (folder / "seeds" / "s.jsonl").write_text(
            '{"id": "s1", "title": "种子新闻标题", "body": "这是一篇种子新闻的第一段。"}\n', encoding="utf-8")
        (folder / "config.toml").write_text('[index]\nseeds = ["seeds"]\ndir = "idx"\nmodel = "hash-bigram-64"\n')
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": SECRET_TOKEN, "TELEGRAM_BASE_URL": base_url, "PYTHONPATH": str(ROOT)}
        with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
            # `python -m bot` with the hash fake as its encoder (tests/with_fake_encoder.py): no model to load.
            runs[base_url] = (folder, subprocess.Popen([sys.executable, "-m", "tests.with_fake_encoder", "bot", "--config", "config.toml"],
                                                       cwd=folder, env=env, stdout=out, stderr=err))
    yield runs
    for _, proc in runs.values():
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("base_url", MALFORMED_BASE_URLS)
def test_a_malformed_base_url_crash_never_prints_the_token(malformed_base_url_runs, base_url):
    folder, proc = malformed_base_url_runs[base_url]
    returncode = proc.wait(timeout=120)
    stdout, stderr = (folder / "stdout").read_text(), (folder / "stderr").read_text()
    assert returncode != 0 and "Traceback" in stderr  # it did crash, with the traceback kept
    assert "SECRETtoken" not in stderr + stdout and "123456" not in stderr + stdout


class HugePassageRetriever(FakeRetriever):
    """Found answers whose paragraphs are one 2.4 MB sentence (a feed item without a full stop)."""

    def __init__(self):
        super().__init__(found_every=1)

    def _passage(self, i):
        p = super()._passage(i)
        return p if p.kind == "headline" else dataclasses.replace(p, text="第一句。" + "很长的段落没有句号" * 270_000)


async def test_an_answer_quoting_a_huge_passage_is_one_message(make_bot, fake_bot_api,
                                                                          handler_errors, fast_limiter):
    application = make_bot(HugePassageRetriever(), rate_limiter=fast_limiter, questions_per_minute=0)
    async with started(application):
        await feed(application, fake_bot_api.message_update("社区防控要突出什么"))
    assert handler_errors == []
    texts = fake_bot_api.texts()
    assert len(texts) == 1 and "第一句" in texts[0] and "…" in texts[0]


@settings(max_examples=200, deadline=None)
@given(text=texts, best=texts, limit=st.integers(20, 400))
def test_a_long_passage_is_quoted_around_its_best_sentence(text, best, limit):
    passage = text * (1 + 2 * limit // max(1, len(text))) + best + text
    shown, bold = formatting.cut_around(passage, best, limit)
    assert len(shown) <= limit + 2
    if best and len(best) <= limit:
        assert bold == best and best in shown


def test_a_long_latest_keyword_is_echoed_short():
    keyword = "疫" * 4000
    (message,) = formatting.headline_list([Headline("疫" * 20, None)], keyword=keyword)
    assert utf16_len(message.split("\n")[0]) < 120


def test_the_digest_reads_a_bounded_part_of_a_huge_article(monkeypatch):
    from bot.analysis import digest

    seen = []
    monkeypatch.setattr(digest, "representative_sentence",
                        lambda paragraphs, title=None: seen.append(sum(map(len, paragraphs))) or paragraphs[0][:50])
    built = digest.build_digest(LinkRetriever("https://x.example/1", body_chars=2_400_000), hours=24, max_items=3)
    assert built.items and seen and max(seen) <= digest.EXTRACT_SOURCE_CHARS


def test_a_long_question_is_encoded_from_its_first_tokens_only(default_encoder, project_config):
    if not project_config.index.query_backend.startswith("onnx"):
        pytest.skip("no ONNX question encoder configured")
    # Through behaviour: past the cap (onnx_encoders.MAX_QUERY_TOKENS = 64, was the model's 256 for
    # passages), whatever follows does not change the question's vector. 20 repeats are more than
    # 64 tokens and, with what follows, still under 256.
    long = "社区防控要突出什么" * 20
    long_vec, longer_vec, short_vec = default_encoder.encode_queries([long, long + "巴西足球比赛的比分", "社区防控要突出什么"])
    assert np.allclose(long_vec, longer_vec, atol=1e-6)
    assert float(long_vec @ short_vec) > 0.5 and long_vec.shape == short_vec.shape
