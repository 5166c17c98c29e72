"""A fake OpenAI-compatible model server on 127.0.0.1, started by the test that uses it.

``POST /v1/chat/completions`` is answered as vLLM, ollama or llama.cpp's server would: with
``stream`` true, Server-Sent Events (``data: {"choices":[{"delta":{"content":…}}]}`` … ``data:
[DONE]``), otherwise one JSON completion. What it answers comes from ``reply`` (a function of the
request's JSON, so a test can answer from the passages it was sent) or from ``queue`` (one
``Behaviour`` per request). Faults: an HTTP status, a delay before each piece (a slow model), raw
bytes instead of well-formed events. Every request is kept in ``requests`` (headers and JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Behaviour:
    """How one request is answered."""

    text: str = ""
    stream: bool = True  # False: one JSON body even though the client asked for a stream
    pieces: int = 3  # characters per SSE chunk
    delay: float = 0.0  # seconds before each chunk
    status: int = 200
    raw: bytes | None = None  # sent as the event stream's body, as is


@dataclass
class Request:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeLLM:
    reply: Callable[[dict[str, Any]], Behaviour] = lambda body: Behaviour("")
    queue: list[Behaviour] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> FakeLLM:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
            body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
            self.requests.append(Request(headers, body))
            if not re.fullmatch(r"POST /v1/chat/completions HTTP/1\.[01]", lines[0]):
                await self._send(writer, 404, "application/json", b'{"error":"not found"}')
                return
            behaviour = self.queue.pop(0) if self.queue else self.reply(body)
            await self._answer(writer, body, behaviour)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _send(self, writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def _answer(self, writer: asyncio.StreamWriter, body: dict[str, Any], b: Behaviour) -> None:
        if b.status != 200:
            await self._send(writer, b.status, "application/json", b'{"error":{"message":"boom"}}')
            return
        if not b.stream:
            completion = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": b.text},
                                       "finish_reason": "stop"}]}
            await self._send(writer, 200, "application/json", json.dumps(completion, ensure_ascii=False).encode())
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        if b.raw is not None:
            writer.write(b.raw)
            await writer.drain()
            return
        for i in range(0, len(b.text), b.pieces):
            if b.delay:
                await asyncio.sleep(b.delay)
            chunk = {"id": "x", "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": b.text[i : i + b.pieces]}, "finish_reason": None}]}
            writer.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
            await writer.drain()
        writer.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
        await writer.drain()


def passages_of(body: dict[str, Any]) -> dict[int, str]:
    """The numbered passages' texts in a request (as bot.llm.prompt lays them out)."""
    user = body["messages"][-1]["content"]
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] 标题：.*\n(.*)$", user, re.M)}


def first_sentence(text: str) -> str:
    """The first sentence of a passage, its end mark dropped."""
    return re.split(r"[。！？]", text, maxsplit=1)[0]


def quoting(body: dict[str, Any]) -> Behaviour:
    """A faithful model: the first sentence of passage [1], cited."""
    return Behaviour(first_sentence(passages_of(body)[1]) + "[1]。")
