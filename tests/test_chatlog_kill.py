"""Group log durability: a process killed with SIGKILL loses no message ChatLog had committed.

A child process logs messages through ChatLog (SQLite WAL, one commit per message) and prints
each message id once ``add`` has returned; the parent SIGKILLs it mid-stream, reopens the file
and finds every reported message (synchronous=NORMAL in WAL mode survives a process crash; only
an OS crash or power loss could drop the last commits).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.chatlog import ChatLog

ROOT = Path(__file__).resolve().parents[1]
CHAT = -100123

WRITER = """
import sys
from datetime import UTC, datetime
from bot.chatlog import ChatLog, ChatMessage

log = ChatLog(sys.argv[1])
n = 0
while True:
    n += 1
    log.add(ChatMessage({chat}, n, 7, "写手", datetime.now(UTC), f"第{{n}}条消息：" + "内容" * 50))
    print(n, flush=True)
""".format(chat=CHAT)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("after", [1, 300])
def test_sigkill_loses_nothing_committed(tmp_path, after):
    path = tmp_path / "chatlog.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    reported = 0
    deadline = time.monotonic() + 60
    try:
        while reported < after and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported = int(line)
    finally:
        child.send_signal(signal.SIGKILL)  # mid-write: no close, no checkpoint
        rest = child.stdout.read()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    reported = max([reported] + [int(x) for x in rest.split()])
    assert reported >= after

    log = ChatLog(path)
    try:
        logged = log.count(CHAT)
        # Everything reported is there; at most the one being written when killed is extra.
        assert reported <= logged <= reported + 1
        ids = [m.message_id for m in log.select(CHAT, count=logged, since=None, default_n=logged, limit=logged)]
        assert sorted(ids) == list(range(1, logged + 1))
    finally:
        log.close()
