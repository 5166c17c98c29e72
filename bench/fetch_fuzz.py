"""Hostile feeds and pages thrown at `python -m index add`: the index stays loadable, each command
ends within its timeout, its peak memory stays under a bound.

The bench serves everything itself on 127.0.0.1: slow servers (headers or body a byte at a time),
compression bombs (one layer, nested Content-Encoding, gzip inside gzip without a header), bodies
past the size cap (with and without Content-Length), XML entity bombs and external entities,
markup that made the page-time regex quadratic, deep nesting, redirect loops and bad redirect
schemes, feeds of 20,000 items, items with 5,000-character or javascript: links, GBK bytes declared
UTF-8, and seeded random mutations of a valid feed and page (byte flips, truncation, duplicated
spans). Each case runs `index add URL --timeout T` in a fresh process against one shared index.

Usage:
    python bench/fetch_fuzz.py [--timeout 3] [--mutations 24] [--max-rss-mib 700] [--seed 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRACE = 30.0  # seconds a command may take beyond its fetch timeout: imports, parsing, the index build

ITEM = ("<item><guid>{g}</guid><title>{t}</title><link>{link}</link>"
        "<description><![CDATA[<p>{body}</p>]]></description><pubDate>Mon, 02 Mar 2026 09:30:00 +0000</pubDate></item>")


def rss(items: list[str], title: str = "模糊测试新闻网", encoding: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>{title}</title>'
            + "".join(items) + "</channel></rss>")


def item(n: int, body: str = "气象台发布暴雨预警，多地启动防汛应急响应。", link: str | None = None) -> str:
    return ITEM.format(g=f"fuzz-{n}", t=f"测试新闻第{n}号", link=link or f"http://news.example/{n}", body=body)


PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>春耕备耕有序推进</title>{head}</head>"
        "<body><article><h1>春耕备耕有序推进</h1><p>各地抢抓农时，春耕备耕工作有序推进，农资供应总体充足，"
        "价格基本稳定，农民种粮积极性较高。</p>{body}</article></body></html>")


def gzip_stream(total: int) -> bytes:
    """gzip of `total` zero bytes, compressed in pieces (never held whole)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece, out = b"\0" * (1 << 20), []
    for _ in range(total >> 20):
        out.append(c.compress(piece))
    out.append(c.flush())
    return b"".join(out)


class Answer:
    """What one path serves: raw head and body, optionally a byte at a time."""

    def __init__(self, body: bytes = b"", status: str = "200 OK", headers: dict | None = None,
                 trickle: float = 0.0, length: bool = True, trickle_head: bool = False):
        self.body, self.status, self.headers = body, status, headers or {}
        self.trickle, self.length, self.trickle_head = trickle, length, trickle_head


def cases(rng: random.Random, mutations: int, port: int) -> dict[str, Answer]:
    """The hostile answers, by name (also their path)."""
    xml = {"Content-Type": "application/rss+xml; charset=utf-8"}
    html = {"Content-Type": "text/html; charset=utf-8"}
    bomb = gzip_stream(1 << 30)  # 1 GiB of zeros in ~1 MB
    valid_feed = rss([item(i) for i in range(5)]).encode()
    valid_page = PAGE.format(head="<meta property='article:published_time' content='2026-03-01 07:45'>", body="").encode()
    out = {
        "headers a byte every 0.5 s": Answer(valid_feed, headers={**xml, "X-Pad": "p" * 200}, trickle=0.5, trickle_head=True),
        "body a byte every 0.05 s": Answer(valid_feed, headers=xml, trickle=0.05),
        "gzip bomb, 1 GiB in 1 MB": Answer(bomb, headers={**xml, "Content-Encoding": "gzip"}),
        "nested gzip bomb (gzip, gzip)": Answer(gzip.compress(bomb, 9), headers={**xml, "Content-Encoding": "gzip, gzip"}),
        "gzip inside gzip, one header": Answer(gzip.compress(bomb, 9), headers={**xml, "Content-Encoding": "gzip"}),
        "gzip bytes without a header": Answer(bomb, headers=html),
        "50 MB without Content-Length": Answer(b"<rss>" + b"x" * (50 << 20), headers=xml, length=False),
        "Content-Length says 100, sends 2 MB": Answer(valid_feed + b" " * (2 << 20), headers={**xml, "Content-Length": "100"}, length=False),
        "billion laughs": Answer(('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                                  + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
                                  + ']><rss version="2.0"><channel><title>&lol9;</title>' + item(1) + "</channel></rss>").encode(), headers=xml),
        "external entity": Answer(('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                   '<rss version="2.0"><channel><title>&x;</title>' + item(2, body="&x;") + "</channel></rss>").encode(), headers=xml),
        "100k '<meta ' in a page": Answer(PAGE.format(head="<meta " * 100_000, body="").encode(), headers=html),
        "100k '<time ' in a page": Answer(PAGE.format(head="", body="<time " * 100_000).encode(), headers=html),
        "100k nested <div>": Answer(PAGE.format(head="", body="<div>" * 100_000 + "深层嵌套" + "</div>" * 100_000).encode(), headers=html),
        "redirect loop": Answer(status="302 Found", headers={"Location": "/redirect%20loop"}),
        "redirect to ftp": Answer(status="301 Moved Permanently", headers={"Location": "ftp://127.0.0.1/x"}),
        "redirect to javascript:": Answer(status="302 Found", headers={"Location": "javascript:alert(1)"}),
        "20,000 items": Answer(rss([item(i) for i in range(20_000)]).encode(), headers=xml),
        "a 2.4 MB one-sentence item": Answer(rss([item(7, body="很长的段落没有句号" * 270_000)]).encode(), headers=xml),
        "5,000-char and javascript: links": Answer(rss([item(8, link="http://x.example/" + "a" * 5000),
                                                        item(9, link="javascript:alert(1)")]).encode(), headers=xml),
        "GBK bytes declared UTF-8": Answer(rss([item(10, body="国务院常务会议部署稳就业。")]).encode("gbk"), headers={"Content-Type": "application/rss+xml"}),
        "10 MB of text in one paragraph": Answer(PAGE.format(head="", body="<p>" + "春耕" * (5 << 20 // 2 // 3) + "</p>").encode(), headers=html),
    }
    for n in range(mutations):
        base = valid_feed if n % 2 == 0 else valid_page
        out[f"mutation {n} of a {'feed' if n % 2 == 0 else 'page'}"] = Answer(mutate(base, rng), headers=xml if n % 2 == 0 else html)
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A seeded random corruption: flipped bytes, a truncation, a duplicated or deleted span."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["flip", "truncate", "duplicate", "delete", "insert"])
        i = rng.randrange(len(b)) if b else 0
        if op == "flip" and b:
            for _ in range(rng.randint(1, 20)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == "truncate":
            del b[i:]
        elif op == "duplicate":
            span = b[i : i + rng.randint(1, 200)]
            b[i:i] = span * rng.randint(2, 2000)
        elif op == "delete":
            del b[i : i + rng.randint(1, 200)]
        else:
            b[i:i] = rng.choice([b"<", b"&", b"]]>", b"<![CDATA[", b"\xff\xfe", b"&#0;", b"<meta ", "\u202e".encode()]) * rng.randint(1, 5000)
    return bytes(b)


def serve(answers: dict[str, Answer]) -> ThreadingHTTPServer:
    """A loopback server answering each case's path (its name, URL-quoted)."""
    from urllib.parse import unquote

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the stdlib's name
            a = answers.get(unquote(self.path[1:]))
            if a is None:
                self.send_error(404)
                return
            head = f"HTTP/1.1 {a.status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in a.headers.items())
            if a.length:
                head += f"Content-Length: {len(a.body)}\r\n"
            head = (head + "Connection: close\r\n\r\n").encode()
            try:
                self._send(head, a.trickle if a.trickle_head else 0)
                self._send(a.body, a.trickle)
            except OSError:
                pass  # the client gave up: what we want
            self.close_connection = True

        def _send(self, data: bytes, trickle: float) -> None:
            if not trickle:
                self.wfile.write(data)
                return
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(trickle)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# `python -m index` that prints its own peak RSS (VmHWM) at exit: the rusage of a child counts the
# memory of the parent it was forked from, which holds all the cases.
CHILD = """
import atexit, runpy, sys

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nPEAK_KB " + line.split()[1] + "\\n")

atexit.register(peak)
sys.argv = ["index", *sys.argv[1:]]
runpy.run_module("index", run_name="__main__", alter_sys=True)
"""


def run_add(config: Path, url: str, timeout: float, kill_after: float) -> tuple[int | None, float, float, str]:
    """Run `index add URL` in a fresh process: exit code (None if killed), wall s, peak RSS MiB, last stderr line."""
    with tempfile.TemporaryFile() as err:
        t = time.monotonic()
        p = subprocess.Popen([sys.executable, "-c", CHILD, "--config", str(config), "add", url, "--no-embed",
                              "--timeout", str(timeout)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        timer = threading.Timer(kill_after, p.kill)
        timer.start()
        _, status, _ = os.wait4(p.pid, 0)
        wall = time.monotonic() - t
        killed = not timer.is_alive()
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    peak = [int(line.split()[1]) / 1024 for line in lines if line.startswith("PEAK_KB ")]
    lines = [line for line in lines if line.strip() and not line.startswith("PEAK_KB ")]
    return (None if killed else p.returncode), wall, max(peak, default=float("nan")), (lines[-1] if lines else "")


def loadable(folder: Path) -> int:
    """The index's passage count after loading it and answering one question (raises if broken)."""
    from index import Retriever

    r = Retriever.load(folder)
    try:
        r.search("暴雨预警")
        return r.stats()["passages"]
    finally:
        r.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=3.0, help="index add --timeout (seconds)")
    parser.add_argument("--mutations", type=int, default=24)
    parser.add_argument("--max-rss-mib", type=float, default=700.0, help="peak RSS bound per command")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from urllib.parse import quote

    from index import IndexConfig, build_index

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="fetch-fuzz-"))
    seeds = work / "seeds"
    seeds.mkdir()
    (seeds / "seed.jsonl").write_text(json.dumps({"id": "seed1", "title": "种子新闻标题", "body": "暴雨预警的种子新闻。"},
                                                 ensure_ascii=False) + "\n", encoding="utf-8")
    build_index([seeds], work / "idx", None, IndexConfig(), embed=False, progress=False)
    config = work / "config.toml"
    config.write_text(f'[index]\nseeds = []\ndir = "{work / "idx"}"\nembed_on_build = false\n')

    print("generating the cases …", flush=True)
    answers = cases(rng, args.mutations, 0)
    server = serve(answers)
    port = server.server_address[1]
    bound = args.timeout + GRACE
    print(f"\n{len(answers)} cases, `index add URL --timeout {args.timeout:g}`; bound per command: "
          f"{bound:g} s, {args.max_rss_mib:g} MiB peak RSS; {os.cpu_count()} cores\n")
    print("| case | exit | wall s | peak RSS MiB | passages after | last stderr line |")
    print("|---|---|---|---|---|---|")
    failures, walls, rsss = [], [], []
    for name in answers:
        url = f"http://127.0.0.1:{port}/{quote(name)}"
        code, wall, rss_mib, last = run_add(config, url, args.timeout, kill_after=bound + 30)
        try:
            passages = loadable(work / "idx")
        except Exception as e:  # noqa: BLE001 - reported as a failure
            passages, last = -1, f"INDEX NOT LOADABLE: {e}"
        walls.append(wall)
        rsss.append(rss_mib)
        bad = code is None or wall > bound or rss_mib > args.max_rss_mib or passages < 0 or "Traceback" in last
        if bad:
            failures.append(name)
        print(f"| {name} | {code if code is not None else 'killed'} | {wall:.1f} | {rss_mib:,.0f} | {passages} | "
              f"{last[:90].replace('|', '¦')}{' **FAIL**' if bad else ''} |", flush=True)
    server.shutdown()
    print(f"\nworst wall {max(walls):.1f} s (bound {bound:g}), worst peak RSS {max(rsss):,.0f} MiB "
          f"(bound {args.max_rss_mib:g}); load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit(f"FAILED: {', '.join(failures)}")
    print("all cases: index loadable, within time and memory")


if __name__ == "__main__":
    main()
