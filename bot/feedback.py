"""Feedback and gaps: 👍/👎 under every answer, questions nothing answered, for /stats and `python -m bot report`.

``FeedbackLog`` is one SQLite file (``[feedback] log_path``, WAL, a commit per write) holding each
answer (its key, the question, the passage ids, the time), one vote per user per answer, and the
questions answered "not found". User ids are stored only as salted hashes, and so are private chat
ids (a group's id is kept: it says which group asked). Rows older than ``retention_days`` are pruned.
``services(context).feedback`` holds the log; the async helpers below are what handlers call.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import logging
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes

from . import db
from .services import services
from .text import MAX_CALLBACK_DATA_BYTES, esc, shorten

logger = logging.getLogger(__name__)

UP, DOWN = "up", "down"
CALLBACK_PATTERN = r"^vote:\w+:(?:up|down)$"
THANKS = "谢谢反馈！"
ALREADY = "你已经评价过这条回答了。"
EXPIRED = "这条回答已过期，请重新提问。"
PRUNE_JOB = "prune-feedback"
TOP_UNANSWERED = 5
MAX_SHOWN = 60  # characters of a question shown in /stats

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, chat TEXT NOT NULL, question TEXT NOT NULL, passages TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    key TEXT NOT NULL, voter TEXT NOT NULL, vote TEXT NOT NULL CHECK (vote IN ('up', 'down')), at REAL NOT NULL,
    PRIMARY KEY (key, voter));
CREATE TABLE IF NOT EXISTS not_found (
    id INTEGER PRIMARY KEY, chat TEXT NOT NULL, question TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS not_found_at ON not_found (at);
CREATE TABLE IF NOT EXISTS llm_fallback (
    id INTEGER PRIMARY KEY, chat TEXT NOT NULL, question TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_at ON answers (at);
"""


class FeedbackLog(db.LockedDB):
    """Answers, votes and unanswered questions in one SQLite file; safe to call from worker threads."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
            (self._salt,) = self._conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()

    def anonymous(self, kind: str, ident: int) -> str:
        """A salted hash standing for a user or private chat id (the same id gives the same hash)."""
        return kind + ":" + hashlib.sha256(f"{self._salt}:{kind}:{ident}".encode()).hexdigest()[:16]

    def chat_label(self, chat_id: int, private: bool) -> str:
        """A group's id as is; a private chat's as a hash."""
        return self.anonymous("p", chat_id) if private else str(chat_id)

    def record_answer(self, key: str, chat: str, question: str, passage_ids: Sequence[int], at: float) -> None:
        """Keep an answer the buttons under it refer to."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                               (key, chat, question, json.dumps(list(passage_ids)), at))

    def record_not_found(self, chat: str, question: str, at: float) -> None:
        """Log a question nothing in the index answered."""
        with self._lock:
            self._conn.execute("INSERT INTO not_found (chat, question, at) VALUES (?, ?, ?)", (chat, question, at))

    def record_llm_fallback(self, chat: str, question: str, reason: str, at: float) -> None:
        """Log a question whose model answer was not shown ([llm]): the quotes went alone, and why."""
        with self._lock:
            self._conn.execute("INSERT INTO llm_fallback (chat, question, reason, at) VALUES (?, ?, ?, ?)",
                               (chat, question, reason, at))

    def llm_fallbacks(self) -> list[tuple[str, str, str]]:
        """(time, question, reason) of every model answer not shown, newest first."""
        with self._lock:
            rows = self._conn.execute("SELECT at, question, reason FROM llm_fallback ORDER BY at DESC, id DESC").fetchall()
        return [(time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)), q, r) for at, q, r in rows]

    def vote(self, key: str, voter: str, vote: str, at: float) -> str:
        """Store a vote once per voter and answer: "new", "again" (already voted) or "unknown" (no such answer)."""
        if vote not in (UP, DOWN):
            raise ValueError(f"not a vote: {vote!r}")
        with self._lock:
            if self._conn.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone() is None:
                return "unknown"
            cur = self._conn.execute("INSERT OR IGNORE INTO votes VALUES (?, ?, ?, ?)", (key, voter, vote, at))
            return "new" if cur.rowcount == 1 else "again"

    def counts(self) -> dict[str, int]:
        """How many answers, 👍, 👎 and "not found" questions are kept."""
        with self._lock:
            (answers,) = self._conn.execute("SELECT COUNT(*) FROM answers").fetchone()
            votes = dict(self._conn.execute("SELECT vote, COUNT(*) FROM votes GROUP BY vote").fetchall())
            (missing,) = self._conn.execute("SELECT COUNT(*) FROM not_found").fetchone()
        return {"answers": answers, UP: votes.get(UP, 0), DOWN: votes.get(DOWN, 0), "not_found": missing}

    def gaps(self, n: int | None = None) -> list[tuple[str, int, int]]:
        """The questions the index fails: (question, times "not found", 👎 votes), most frequent first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT question, SUM(missing), SUM(down) FROM ("
                "  SELECT question, 1 AS missing, 0 AS down FROM not_found"
                "  UNION ALL SELECT a.question, 0, 1 FROM votes v JOIN answers a ON a.key = v.key WHERE v.vote = 'down'"
                ") GROUP BY question ORDER BY SUM(missing) + SUM(down) DESC, MAX(missing) DESC, question"
                + (" LIMIT ?" if n is not None else ""),
                (n,) if n is not None else (),
            ).fetchall()
        return [(q, int(m), int(d)) for q, m, d in rows]

    def votes(self) -> list[tuple[str, str, str, int, int]]:
        """Each answer that got votes: (time, question, passage ids as JSON, 👍, 👎), newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.at, a.question, a.passages, SUM(v.vote = 'up'), SUM(v.vote = 'down') "
                "FROM answers a JOIN votes v ON v.key = a.key GROUP BY a.key ORDER BY a.at DESC"
            ).fetchall()
        return [(time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)), q, p, int(u), int(d)) for at, q, p, u, d in rows]

    def prune(self, now: float, max_days: float) -> int:
        """Delete answers, their votes and "not found" questions older than ``max_days``; return rows deleted."""
        cutoff = now - max_days * 86400
        with self._lock:
            n = self._conn.execute("DELETE FROM votes WHERE key IN (SELECT key FROM answers WHERE at < ?)",
                                   (cutoff,)).rowcount
            n += self._conn.execute("DELETE FROM answers WHERE at < ?", (cutoff,)).rowcount
            n += self._conn.execute("DELETE FROM not_found WHERE at < ?", (cutoff,)).rowcount
            n += self._conn.execute("DELETE FROM llm_fallback WHERE at < ?", (cutoff,)).rowcount
        return n


# --- the buttons (pure) ---------------------------------------------------------------------------


def with_vote_buttons(keyboard: InlineKeyboardMarkup | None, key: str) -> InlineKeyboardMarkup:
    """The answer's keyboard with a 👍 👎 row added under it."""
    row = [InlineKeyboardButton("👍", callback_data=f"vote:{key}:{UP}"),
           InlineKeyboardButton("👎", callback_data=f"vote:{key}:{DOWN}")]
    for button in row:
        if len(str(button.callback_data).encode()) > MAX_CALLBACK_DATA_BYTES:
            raise ValueError(f"callback data too long: {button.callback_data!r}")
    rows = [list(r) for r in keyboard.inline_keyboard] if keyboard is not None else []
    return InlineKeyboardMarkup([*rows, row])


def stats_lines(counts: dict[str, int], gaps: Sequence[tuple[str, int, int]]) -> list[str]:
    """The /stats section: vote counts, then the top unanswered or 👎 questions."""
    lines = ["<b>反馈</b>",
             f"👍 {counts[UP]} · 👎 {counts[DOWN]}（{counts['answers']} 条回答）· 没找到 {counts['not_found']} 次"]
    if gaps:
        lines.append("<b>没答好的问题</b>（没找到 / 👎）")
        for question, missing, down in gaps:
            lines.append(f"• {esc(shorten(question, MAX_SHOWN))}  {missing} / {down}")
    return lines


# --- what handlers call -----------------------------------------------------------------------------


def _log(context: ContextTypes.DEFAULT_TYPE) -> FeedbackLog | None:
    return services(context).feedback


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store a 👍 or 👎 press, once per user and answer."""
    query = update.callback_query
    _, key, choice = (query.data or "").split(":")
    log = _log(context)
    if log is None or update.effective_user is None:
        await query.answer(EXPIRED)
        return
    voter = log.anonymous("u", update.effective_user.id)
    outcome = await asyncio.to_thread(log.vote, key, voter, choice, time.time())
    if outcome == "new":
        services(context).usage["votes_" + choice] += 1
    await query.answer({"new": THANKS, "again": ALREADY}.get(outcome, EXPIRED))


async def stats_section(context: ContextTypes.DEFAULT_TYPE) -> list[str]:
    """The /stats lines about feedback ([] without a feedback log)."""
    log = _log(context)
    if log is None:
        return []
    counts, gaps = await asyncio.gather(asyncio.to_thread(log.counts), asyncio.to_thread(log.gaps, TOP_UNANSWERED))
    return stats_lines(counts, gaps)


async def prune_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete feedback older than the retention."""
    log = _log(context)
    if log is not None:
        await asyncio.to_thread(log.prune, time.time(), services(context).config.feedback.retention_days)


def schedule(application: Application) -> None:
    """Prune the feedback log on the chat log's schedule."""
    if application.job_queue is None or services(application).feedback is None:
        return
    minutes = services(application).config.groups.prune_every_minutes
    for job in application.job_queue.get_jobs_by_name(PRUNE_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(prune_job, interval=minutes * 60, first=15, name=PRUNE_JOB)


# --- python -m bot report ------------------------------------------------------------------------------


# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection"); the full-width
# forms, which Chinese input methods type, in case a spreadsheet folds them to ASCII.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
TABLES = ("meta", "answers", "votes", "not_found")  # what makes a SQLite file a feedback log


def cell(value):
    """A CSV cell a spreadsheet shows as text: a string starting like a formula gets a leading single quote."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def report(log: FeedbackLog, out) -> None:
    """Write the gaps (questions not found or voted 👎) and the voted answers as CSV."""
    writer = csv.writer(out)
    writer.writerow(["kind", "question", "not_found", "down", "up", "passages", "time_utc"])
    for question, missing, down in log.gaps():
        writer.writerow(map(cell, ["gap", question, missing, down, "", "", ""]))
    for at, question, passages, up, down in log.votes():
        writer.writerow(map(cell, ["voted", question, "", down, up, passages, at]))
    # [llm]: answers the guard (or a timeout, an error, the budget) kept back; the reason in "passages".
    for at, question, reason in log.llm_fallbacks():
        writer.writerow(map(cell, ["llm_fallback", question, "", "", "", reason, at]))


def is_feedback_log(path: Path) -> bool:
    """Whether a file is a SQLite database holding the feedback log's tables (looked at, never written)."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:  # not a database, or an encrypted or damaged one
        return False
    finally:
        conn.close()
    return set(TABLES) <= names


def report_main(argv: list[str]) -> int:
    """`python -m bot report [--config FILE] [--db FILE]`: the gaps and votes as CSV on stdout."""
    from index import load_config

    from .config import ConfigError, load_feedback_config

    parser = argparse.ArgumentParser(prog="python -m bot report", description=report.__doc__)
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="config file")
    parser.add_argument("--db", type=Path, help="the feedback log (default: [feedback] log_path)")
    args = parser.parse_args(argv)
    if args.db is None:
        try:
            cfg = load_config(args.config)
            feedback = load_feedback_config(cfg.raw.get("feedback"), cfg.path.resolve().parent if cfg.path else None)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            return 2
        args.db = feedback.log_path
    if args.db is None or not args.db.is_file():
        print(f"no feedback log at {args.db}", file=sys.stderr)
        return 1
    # Opening it as a FeedbackLog would create our tables in any SQLite file it is pointed at.
    if not is_feedback_log(args.db):
        print(f"error: {args.db} is not a feedback log (a SQLite file with the tables {', '.join(TABLES)})",
              file=sys.stderr)
        return 1
    log = FeedbackLog(args.db)
    try:
        report(log, sys.stdout)
    finally:
        log.close()
    return 0
