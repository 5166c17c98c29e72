"""Group chats end to end: the message log, /summary, /digest, /forget, the jobs and the allowlist.

The real Application and handlers, the seed index (hash-embedded: the summaries do not depend on
the model) and a ChatLog file in tmp_path; every
request goes to the spec-checked fake Bot API (tests/fakebotapi.py), which fails a test that made
a request Telegram would reject.

Realistic chatter is real LCCC dialogue turns (../shared/data/lccc-toy); LCCC has no speakers or
times, so the senders, user ids and dates here are made up (people take turns, a message a minute).
"""

from __future__ import annotations

import html
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram import ChatMemberAdministrator, ChatMemberOwner

from bot import groups
from bot.analysis import summarize
from bot.config import GroupsConfig, SummaryConfig
from bot.analysis.sentence_picker import representative_sentence
from tests.fakebotapi import ALICE, BOB, GROUP_CHAT, PRIVATE_CHAT, parse_html
from tests.helpers import Shared, feed, started

GROUP = GROUP_CHAT["id"]  # -100123, a supergroup: its links are https://t.me/c/123/<message id>
LINK = re.compile(r'<a href="https://t\.me/c/123/(\d+)">(.*?)</a>')
TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"
# Made-up people for the LCCC turns.
PEOPLE = [
    {"id": 2001, "is_bot": False, "first_name": "小王"},
    {"id": 2002, "is_bot": False, "first_name": "李", "last_name": "雷"},
    {"id": 2003, "is_bot": False, "first_name": "韩梅梅"},
    {"id": 2004, "is_bot": False, "first_name": "老张"},
]


VCSUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "vcsum-dev" / "vcsum-short-dev.jsonl"


@pytest.fixture(scope="module")
def vcsum_turns() -> list[dict]:
    """Six long turns (120+ characters each) of one real meeting segment (VCSum dev)."""
    if not VCSUM.is_file():
        pytest.skip(f"{VCSUM} is absent (../shared not checked out)")
    with VCSUM.open(encoding="utf-8") as f:
        for line in f:
            long = [t for t in json.loads(line)["turns"] if len(t["text"]) >= 120]
            if len(long) >= 6:
                return long[:6]
    pytest.skip("no VCSum segment with six long turns")


@pytest.fixture
async def quick_group_bot(make_bot, hash_seed_retriever):
    """group_bot without the /summary cooldown, for tests that summarize several times."""
    application = make_bot(hash_seed_retriever, summary=SummaryConfig(cooldown_seconds=0))
    async with started(application):
        await application.post_init(application)
        yield application



def lccc_chat(dialogues: list[list[str]], k: int, seed: int) -> list[tuple[dict, str]]:
    """Interleave k real dialogues into one group chat: (made-up sender, real turn) pairs."""
    rng = random.Random(seed)
    chosen = rng.sample(dialogues, k)
    order = [d for d, turns in enumerate(chosen) for _ in turns]
    rng.shuffle(order)
    pos = [0] * k
    out = []
    for d in order:
        # Two made-up people per dialogue, taking turns.
        out.append((PEOPLE[(2 * d + pos[d] % 2) % len(PEOPLE)], chosen[d][pos[d]]))
        pos[d] += 1
    return out


async def post(application, fake, lines: list[tuple[dict, str]], start: int, chat: dict = GROUP_CHAT) -> list[dict]:
    """Post the lines to the group, a minute apart from Unix time ``start``; return the messages."""
    messages = []
    for i, (user, text) in enumerate(lines):
        update = fake.message_update(text, chat=chat, user=user, date=start + 60 * i)
        await feed(application, update)
        messages.append(update["message"])
    return messages


def replies(fake, chat_id: int = GROUP) -> list[str]:
    return [m["text"] for m in fake.sent("sendMessage", chat_id)]


def plain(text: str) -> str:
    return parse_html(text)[0]


def full_name(user: dict) -> str:
    return " ".join(filter(None, [user["first_name"], user.get("last_name")]))


# --- the message log ------------------------------------------------------------------------------


async def test_group_messages_are_logged_and_private_ones_are_not(group_bot, fake_bot_api):
    fake_bot_api.forget_calls()  # start-up
    now = int(time.time())
    first = fake_bot_api.message_update("今晚谁去打球", chat=GROUP_CHAT, user=ALICE, date=now - 120)
    await feed(group_bot, first)
    answer = fake_bot_api.message_update(
        "我去，八点老地方", chat=GROUP_CHAT, user=BOB, reply_to=first["message"], date=now - 60
    )
    await feed(group_bot, answer)
    await feed(group_bot, fake_bot_api.message_update("/latest 3", chat=GROUP_CHAT, user=BOB))
    await feed(group_bot, fake_bot_api.message_update("这句是私聊，不能记下来"))

    log = group_bot.bot_data["services"].chatlog
    assert log.chats() == [GROUP]  # the private chat left no trace
    logged = log.last(GROUP, 10)
    assert [(m.message_id, m.user_id, m.sender, m.text, m.reply_to) for m in logged] == [
        (first["message"]["message_id"], ALICE["id"], "Alice", "今晚谁去打球", None),
        (answer["message"]["message_id"], BOB["id"], "Bob", "我去，八点老地方", first["message"]["message_id"]),
    ]  # the /latest command is not chatter: not logged
    assert [m.time for m in logged] == [
        datetime.fromtimestamp(now - 120, UTC),
        datetime.fromtimestamp(now - 60, UTC),
    ]
    # The chatter got no reply; only /latest and the private question did.
    assert len(fake_bot_api.sent("sendMessage", GROUP)) == 1
    assert len(fake_bot_api.sent("sendMessage", PRIVATE_CHAT["id"])) == 1


async def test_edited_messages_update_the_log(group_bot, fake_bot_api):
    original = fake_bot_api.message_update("明天下午三点开会", chat=GROUP_CHAT, user=BOB)
    await feed(group_bot, original)
    edit_date = int(time.time()) + 30
    await feed(group_bot, fake_bot_api.edited_update(original["message"], "明天下午四点开会", edit_date=edit_date))

    log = group_bot.bot_data["services"].chatlog
    [logged] = log.last(GROUP, 10)
    assert logged.text == "明天下午四点开会" and logged.edited
    assert logged.message_id == original["message"]["message_id"]
    assert logged.time == datetime.fromtimestamp(original["message"]["date"], UTC)  # the original time
    # An edited private message is not logged either.
    private = fake_bot_api.message_update("私聊内容")
    await feed(group_bot, fake_bot_api.edited_update(private["message"], "私聊内容改过了"))
    assert log.chats() == [GROUP] and log.count(GROUP) == 1
    assert not fake_bot_api.sent("sendMessage", GROUP)  # an edit is not a question


# --- /summary ------------------------------------------------------------------------------------


async def test_summary_quotes_representative_messages_with_links(group_bot, fake_bot_api, lccc_dialogues):
    lines = lccc_chat(lccc_dialogues, k=5, seed=7)
    sent = await post(group_bot, fake_bot_api, lines, int(time.time()) - 60 * len(lines))
    by_id = {m["message_id"]: m for m in sent}
    command = fake_bot_api.message_update("/summary", chat=GROUP_CHAT, user=ALICE)
    await feed(group_bot, command)

    [reply] = fake_bot_api.sent("sendMessage", GROUP)
    assert reply["reply_parameters"]["message_id"] == command["message"]["message_id"]
    text = plain(reply["text"])
    people = {u["id"] for u, _ in lines}
    assert f"读了 {len(lines)} 条消息，{len(people)} 人参与" in text
    assert "最近 200 条消息" in text  # no summary before: the default window
    links = LINK.findall(reply["text"])
    assert len(links) == group_bot.bot_data["services"].config.summary.picks == 5
    for message_id, quote in links:
        original = by_id[int(message_id)]  # a link to a message of this chat
        for piece in html.unescape(quote).split(" … "):  # a whole message, or sentences of it
            assert piece.rstrip("…") in " ".join(original["text"].split())
        sender = full_name(original["from"])
        assert f"<b>{html.escape(sender)}</b>：<a href=\"https://t.me/c/123/{message_id}\">" in reply["text"]
    # The picks are exactly what the core picks from the log with the configured settings.
    config = group_bot.bot_data["services"].config.summary
    expected = summarize.summarize(
        group_bot.bot_data["services"].chatlog.last(GROUP, 1000), config.picks, min_messages=config.min_messages,
        min_chars=config.min_chars, quote_chars=config.quote_chars, diversity=config.diversity,
        duplicate_jaccard=config.duplicate_jaccard,
    )
    assert [int(mid) for mid, _ in links] == [p.message.message_id for p in expected.picks]
    assert all(kw in text for kw in expected.keywords)
    assert "相关新闻" not in text  # everyday chatter is not news of the index


async def test_a_bare_summary_reads_only_what_came_after_the_last_one(quick_group_bot, fake_bot_api, lccc_dialogues):
    group_bot = quick_group_bot
    start = int(time.time()) - 3600
    before = lccc_chat(lccc_dialogues, k=4, seed=1)
    await post(group_bot, fake_bot_api, before, start)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
    after = lccc_chat(lccc_dialogues, k=3, seed=2)
    after_messages = await post(group_bot, fake_bot_api, after, start + 1800)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))

    first, nothing_new, second = (plain(t) for t in replies(fake_bot_api))
    assert f"读了 {len(before)} 条消息" in first
    assert nothing_new == "这段时间只有 0 条消息、0 字，不够总结（至少需要 300 字或 10 条消息）。"
    assert f"读了 {len(after)} 条消息" in second and "上次总结以来" in second
    quoted = {int(mid) for mid, _ in LINK.findall(replies(fake_bot_api)[2])}
    assert quoted <= {m["message_id"] for m in after_messages}


async def test_six_long_messages_get_a_summary_quoting_their_best_sentences(group_bot, fake_bot_api, vcsum_turns):
    # Six long turns of a real meeting (VCSum dev): too few messages for the old count floor.
    people = {i: PEOPLE[i % len(PEOPLE)] for i in range(4)}
    lines = [(people[t["speaker"] % 4], t["text"]) for t in vcsum_turns]
    sent = await post(group_bot, fake_bot_api, lines, int(time.time()) - 600)
    by_id = {m["message_id"]: m for m in sent}
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT, user=ALICE))

    [reply] = replies(fake_bot_api)
    text = plain(reply)
    assert "讨论摘要" in text and "读了 6 条消息" in text
    links = LINK.findall(reply)
    assert 1 <= len(links) <= group_bot.bot_data["services"].config.summary.picks
    quoted = 0
    for message_id, quote in links:
        original = " ".join(by_id[int(message_id)]["text"].split())
        pieces = html.unescape(quote).split(" … ")
        assert all(piece in original for piece in pieces)  # sentences of the linked message
        assert sum(map(len, pieces)) < len(original)  # a long message is quoted in part
        quoted += sum(map(len, pieces))
    assert quoted <= group_bot.bot_data["services"].config.summary.quote_chars


async def test_three_short_messages_get_the_plain_too_little_line(group_bot, fake_bot_api):
    fake_bot_api.make_admin(GROUP, fake_bot_api.bot_user)  # it sees everything: no privacy-mode hint
    await post(group_bot, fake_bot_api, [(ALICE, "今晚吃什么"), (BOB, "火锅吧！"), (ALICE, "好")], int(time.time()) - 300)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))

    assert fake_bot_api.texts(GROUP) == ["这段时间只有 3 条消息、9 字，不够总结（至少需要 300 字或 10 条消息）。"]


async def test_a_second_summary_within_the_cooldown_gets_a_short_wait_line(group_bot, fake_bot_api, lccc_dialogues):
    clock = group_bot.bot_data["services"].clock  # a FakeClock: seconds pass only when the test says so
    await post(group_bot, fake_bot_api, lccc_chat(lccc_dialogues, k=3, seed=9), int(time.time()) - 3600)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
    clock.advance(12)
    await feed(group_bot, fake_bot_api.message_update("/summary 500", chat=GROUP_CHAT))

    summary, refused = fake_bot_api.texts(GROUP)
    assert "讨论摘要" in summary
    assert refused == "请稍等：每个群 30 秒内只总结一次，18 秒后再试。"

    clock.advance(17.5)  # half a second left: still refused, the wait rounded up
    await feed(group_bot, fake_bot_api.message_update("/summary 500", chat=GROUP_CHAT))
    assert fake_bot_api.texts(GROUP)[-1] == "请稍等：每个群 30 秒内只总结一次，1 秒后再试。"
    clock.advance(0.5)  # the cooldown is over
    await feed(group_bot, fake_bot_api.message_update("/summary 500", chat=GROUP_CHAT))
    assert "讨论摘要" in fake_bot_api.texts(GROUP)[-1]


async def test_summary_2h_leaves_out_older_messages(quick_group_bot, fake_bot_api, lccc_dialogues):
    group_bot = quick_group_bot
    now = int(time.time())
    old = await post(group_bot, fake_bot_api, lccc_chat(lccc_dialogues, k=3, seed=3), now - 5 * 3600)
    recent_lines = lccc_chat(lccc_dialogues, k=3, seed=4)
    recent = await post(group_bot, fake_bot_api, recent_lines, now - 3600)
    await feed(group_bot, fake_bot_api.message_update("/summary 2h", chat=GROUP_CHAT))
    await feed(group_bot, fake_bot_api.message_update("/summary 500", chat=GROUP_CHAT))

    two_hours, everything = replies(fake_bot_api)
    assert "最近 2 小时" in plain(two_hours)
    assert f"读了 {len(recent)} 条消息" in plain(two_hours)
    quoted = {int(mid) for mid, _ in LINK.findall(two_hours)}
    assert quoted and quoted <= {m["message_id"] for m in recent}
    assert not quoted & {m["message_id"] for m in old}
    assert f"读了 {len(old) + len(recent)} 条消息" in plain(everything)


async def test_too_few_messages_get_a_one_line_answer(group_bot, fake_bot_api, lccc_dialogues):
    lines = lccc_chat(lccc_dialogues, k=3, seed=5)
    assert len(lines) >= 10
    await post(group_bot, fake_bot_api, lines, int(time.time()) - 3 * 3600)
    fake_bot_api.forget_calls()
    await feed(group_bot, fake_bot_api.message_update("/summary 30m", chat=GROUP_CHAT))

    [text] = fake_bot_api.texts(GROUP)
    assert text == "这段时间只有 0 条消息、0 字，不够总结（至少需要 300 字或 10 条消息）。"
    # The bot clearly sees the chat (it logged plenty), so it did not look into privacy mode.
    assert not fake_bot_api.sent("getChatMember")


async def test_a_bot_that_saw_almost_nothing_explains_privacy_mode(group_bot, fake_bot_api):
    await post(group_bot, fake_bot_api, [(ALICE, "有人在吗"), (BOB, "在")], int(time.time()) - 120)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))

    [text] = fake_bot_api.texts(GROUP)
    first, hint = text.split("\n")
    assert first == "这段时间只有 2 条消息、5 字，不够总结（至少需要 300 字或 10 条消息）。"
    assert "隐私模式" in hint and "BotFather" in hint and "管理员" in hint
    [asked] = fake_bot_api.sent("getChatMember")
    assert int(asked["user_id"]) == fake_bot_api.bot_user["id"]

    # An administrator sees everything whatever its privacy mode: then the hint would be wrong.
    fake_bot_api.make_admin(GROUP, fake_bot_api.bot_user)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
    assert fake_bot_api.texts(GROUP)[-1] == first


async def test_summary_of_a_discussion_touching_the_news_names_related_headlines(
    group_bot, fake_bot_api, lccc_dialogues
):
    # LCCC has no talk of this news, so these five lines are made up; real LCCC turns fill the rest.
    news = [
        (PEOPLE[0], "看新闻了吗，社区疫情防控又加强了"),
        (PEOPLE[1], "我们小区现在进门都要登记测体温"),
        (PEOPLE[2], "社区防控要守住门，网格化管理挺有用"),
        (PEOPLE[3], "基层社区工作人员真辛苦，天天守在小区门口"),
        (PEOPLE[0], "疫情防控还是得靠社区把好关"),
    ]
    chatter = lccc_chat(lccc_dialogues, k=2, seed=6)
    await post(group_bot, fake_bot_api, news + chatter, int(time.time()) - 3600)
    await feed(group_bot, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))

    [text] = fake_bot_api.texts(GROUP)
    assert len(chatter) > len(news)  # the news is only part of the discussion
    assert "相关新闻：" in text
    related = text.split("相关新闻：", 1)[1]
    assert TITLE in related
    assert 1 <= related.count("• ") <= group_bot.bot_data["services"].config.summary.related_headlines



class RelatedSpy(Shared):
    """A retriever that records the texts /summary asks ``related`` about."""

    def __init__(self, retriever) -> None:
        super().__init__(retriever)
        self.asked: list[str] = []

    def related(self, text: str, n: int = 3):
        self.asked.append(text)
        return self._retriever.related(text, n)


async def test_summary_related_news_is_one_search_of_the_keywords(make_bot, hash_seed_retriever, fake_bot_api,
                                                                    lccc_dialogues):
    spy = RelatedSpy(hash_seed_retriever)
    news = [(PEOPLE[0], "社区疫情防控又加强了"), (PEOPLE[1], "社区防控要守住门，网格化管理挺有用"),
            (PEOPLE[2], "疫情防控还是得靠社区把好关")]
    async with started(make_bot(spy)) as application:
        await post(application, fake_bot_api, news + lccc_chat(lccc_dialogues, k=2, seed=6), int(time.time()) - 3600)
        await feed(application, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
    [text] = fake_bot_api.texts(GROUP)
    topics = parse_html(text)[0].split("话题：", 1)[1].split("\n", 1)[0].split("、")
    assert spy.asked == [" ".join(topics[: groups.RELATED_QUERY_WORDS])]

@pytest.mark.parametrize(
    "chat, text, expected",
    [
        (PRIVATE_CHAT, "/summary", groups.GROUP_ONLY),
        (PRIVATE_CHAT, "/forget", groups.FORGOTTEN_CONVERSATION),
        (GROUP_CHAT, "/summary 昨天", "看不懂 “昨天”。" + groups.SUMMARY_USAGE),
        # int() refuses over 4,300 digits in English; the user gets the Chinese limit instead.
        (GROUP_CHAT, "/summary " + "9" * 5000, "最多总结 2000 条消息。" + groups.SUMMARY_USAGE),
        (GROUP_CHAT, "/digest sometimes", groups.DIGEST_USAGE),
    ],
)
async def test_misplaced_or_malformed_commands_get_one_line(group_bot, fake_bot_api, chat, text, expected):
    await feed(group_bot, fake_bot_api.message_update(text, chat=chat))
    assert fake_bot_api.texts(chat["id"]) == [expected]


# --- /digest -------------------------------------------------------------------------------------


async def test_digest_lists_the_newest_seed_headlines_with_an_extract(group_bot, fake_bot_api, hash_seed_retriever):
    await feed(group_bot, fake_bot_api.message_update("/digest", chat=GROUP_CHAT))

    [text] = fake_bot_api.texts(GROUP)
    lines = text.splitlines()
    # The seed is from 2020: the window is the last 24 hours of the corpus, and it says so.
    assert lines[0].startswith("新闻摘要：截至 2020-02-09 23:26（北京时间）的 24 小时内，最新 10 条")
    assert "新闻库最新的新闻是 2020-02-09 的" in lines[1]
    bullets = [line for line in lines if line.startswith("• ")]
    newest = [h.title for h in hash_seed_retriever.latest(10)]
    assert len(bullets) == 10
    assert all(title in bullet for title, bullet in zip(newest, bullets))
    # Only the headline with an article in the index gets an extract, right under it.
    extracts = [line.strip("　") for line in lines if line.startswith("　")]
    assert len(extracts) == 1
    assert TITLE in lines[lines.index("　" + extracts[0]) - 1]
    article = hash_seed_retriever.article(hash_seed_retriever.latest(1)[0].article_id)
    assert extracts[0] == representative_sentence(article.paragraphs, title=article.title)
    assert extracts[0] in "".join(article.paragraphs)
    assert "俄罗斯的报复来了" not in text  # an undated headline belongs to no day


async def test_digest_on_schedules_a_daily_job_that_survives_a_restart(make_bot, hash_seed_retriever, fake_bot_api):
    first = make_bot(hash_seed_retriever)
    async with first:
        await first.post_init(first)
        await feed(first, fake_bot_api.message_update("/digest on 8:00", chat=GROUP_CHAT))
        assert len(first.job_queue.get_jobs_by_name(f"digest:{GROUP}")) == 1
        await first.post_shutdown(first)
    assert fake_bot_api.texts(GROUP) == [groups.SUBSCRIBED.format(at="08:00")]

    # A restart: a new Application on the same ChatLog file.
    second = make_bot(hash_seed_retriever)
    async with second:
        await second.post_init(second)
        await second.start()  # starts the JobQueue, which computes the next run
        try:
            [job] = second.job_queue.get_jobs_by_name(f"digest:{GROUP}")
            assert job.chat_id == GROUP
            shanghai = job.next_t.astimezone(ZoneInfo("Asia/Shanghai"))
            assert (shanghai.hour, shanghai.minute) == (8, 0)
            assert timedelta(0) < job.next_t - datetime.now(UTC) <= timedelta(days=1)

            # When it runs, the digest goes to the group.
            fake_bot_api.forget_calls()
            await job.run(second)
            [sent] = fake_bot_api.texts(GROUP)
            assert sent.startswith("新闻摘要：") and TITLE in sent

            await feed(second, fake_bot_api.message_update("/digest off", chat=GROUP_CHAT))
            assert fake_bot_api.texts(GROUP)[-1] == groups.UNSUBSCRIBED
            assert not second.job_queue.get_jobs_by_name(f"digest:{GROUP}")
        finally:
            await second.stop()
        assert second.bot_data["services"].subscriptions.all() == []


async def test_digest_on_with_a_bad_time_subscribes_nothing(group_bot, fake_bot_api):
    await feed(group_bot, fake_bot_api.message_update("/digest on 25:00", chat=GROUP_CHAT))
    await feed(group_bot, fake_bot_api.message_update("/digest off", chat=GROUP_CHAT))

    refused, off = fake_bot_api.texts(GROUP)
    assert "时间超出范围" in refused
    assert off == groups.NOT_SUBSCRIBED
    assert not group_bot.job_queue.get_jobs_by_name(f"digest:{GROUP}")
    assert group_bot.bot_data["services"].subscriptions.all() == []


# --- /forget and pruning -------------------------------------------------------------------------


async def test_forget_is_refused_to_members_and_done_for_admins(group_bot, fake_bot_api, lccc_dialogues):
    lines = lccc_chat(lccc_dialogues, k=2, seed=8)
    await post(group_bot, fake_bot_api, lines, int(time.time()) - 600)
    log = group_bot.bot_data["services"].chatlog

    await feed(group_bot, fake_bot_api.message_update("/forget", chat=GROUP_CHAT, user=ALICE))
    assert fake_bot_api.texts(GROUP) == [groups.FORGET_REFUSED]
    [asked] = fake_bot_api.sent("getChatMember")
    assert int(asked["chat_id"]) == GROUP and int(asked["user_id"]) == ALICE["id"]
    assert log.count(GROUP) == len(lines)

    fake_bot_api.make_admin(GROUP, BOB)
    await feed(group_bot, fake_bot_api.message_update("/forget", chat=GROUP_CHAT, user=BOB))
    assert fake_bot_api.texts(GROUP)[-1] == groups.FORGOTTEN.format(n=len(lines))
    assert log.count(GROUP) == 0


async def test_the_owner_may_forget_too_and_admins_are_listed_in_spec_shape(group_bot, fake_bot_api):
    await post(group_bot, fake_bot_api, [(BOB, "随便聊两句")], int(time.time()))
    fake_bot_api.make_admin(GROUP, ALICE, status="creator")
    fake_bot_api.make_admin(GROUP, BOB)

    admins = await group_bot.bot.get_chat_administrators(GROUP)
    assert [(type(a), a.user.id) for a in admins] == [
        (ChatMemberOwner, ALICE["id"]),
        (ChatMemberAdministrator, BOB["id"]),
    ]
    # The fake holds union members to their discriminator: a "member" cannot pose as an admin.
    problem = fake_bot_api.spec.check_value({"status": "administrator", "user": ALICE}, "ChatMember", "x")
    assert problem
    await feed(group_bot, fake_bot_api.message_update("/forget", chat=GROUP_CHAT, user=ALICE))
    assert fake_bot_api.texts(GROUP) == [groups.FORGOTTEN.format(n=1)]


async def test_the_repeating_job_prunes_old_and_surplus_messages(make_bot, hash_seed_retriever, fake_bot_api, tmp_path):
    config = GroupsConfig(log_path=tmp_path / "log.sqlite", retention_days=7, retention_messages=3, prune_every_minutes=30)
    application = make_bot(hash_seed_retriever, groups=config)
    async with started(application):
        await application.post_init(application)
        now = int(time.time())
        old = await post(application, fake_bot_api, [(ALICE, "十天前的消息"), (BOB, "九天前的消息")], now - 10 * 86400)
        recent = await post(
            application, fake_bot_api, [(ALICE, f"第{i}条新消息") for i in range(5)], now - 600
        )
        log = application.bot_data["services"].chatlog
        assert log.count(GROUP) == len(old) + len(recent)

        [job] = application.job_queue.get_jobs_by_name(groups.PRUNE_JOB)
        assert job.job.trigger.interval == timedelta(minutes=30)
        await job.run(application)

        assert [m.message_id for m in log.last(GROUP, 100)] == [m["message_id"] for m in recent[-3:]]


# --- the allowlist -------------------------------------------------------------------------------


async def test_a_chat_off_the_allowlist_stores_nothing_and_is_refused(make_bot, hash_seed_retriever, fake_bot_api, tmp_path):
    allowed = {"id": -100999, "type": "supergroup", "title": "允许的群"}
    fake_bot_api.chats[allowed["id"]] = allowed
    config = GroupsConfig(allowed_chats=frozenset({allowed["id"]}), log_path=tmp_path / "log.sqlite")
    application = make_bot(hash_seed_retriever, groups=config)
    async with started(application):
        await application.post_init(application)
        fake_bot_api.forget_calls()
        chatter = await post(application, fake_bot_api, [(ALICE, "今晚谁去打球"), (BOB, "我去")], int(time.time()) - 60)
        await feed(application, fake_bot_api.edited_update(chatter[0], "今晚谁去打篮球"))
        await feed(application, fake_bot_api.message_update("/summary", chat=GROUP_CHAT))
        await feed(application, fake_bot_api.message_update("/digest on 08:00", chat=GROUP_CHAT))
        await feed(application, fake_bot_api.mention_update("@news_test_bot 社区防控要突出什么"))
        await feed(application, fake_bot_api.message_update("/latest@another_bot", chat=GROUP_CHAT))
        # The allowed group and private chats work as usual.
        await post(application, fake_bot_api, [(ALICE, "这个群可以用")], int(time.time()), chat=allowed)
        await feed(application, fake_bot_api.message_update("/latest 3"))

        log = application.bot_data["services"].chatlog
        assert log.chats() == [allowed["id"]]
        assert application.bot_data["services"].subscriptions.all() == []
        assert not application.job_queue.get_jobs_by_name(f"digest:{GROUP}")
        refusal = groups.REFUSAL.format(chat_id=GROUP)
        # One refusal per thing addressed to this bot; chatter, the edit and another bot's command get none.
        assert fake_bot_api.texts(GROUP) == [refusal] * 3
        assert len(fake_bot_api.texts(PRIVATE_CHAT["id"])) == 1

