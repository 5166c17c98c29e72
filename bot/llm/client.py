"""A minimal client for any OpenAI-compatible ``/v1/chat/completions``, streamed (SSE), over httpx.

httpx is already the bot's HTTP layer (python-telegram-bot uses it), so this adds no dependency.
Everything a remote model controls is bounded: the whole answer's time (``timeout_seconds``), the
bytes read, the chunks parsed, the length of one line. A server that ignores ``stream`` and answers
with one JSON body is read the same way (up to the same byte bound).

The key goes only into the ``Authorization`` header; it is never part of an error's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MAX_STREAM_BYTES = 256 * 1024  # a 300-token answer is ~2 KB of text and ~60 KB of SSE framing
MAX_CHUNKS = 4096
MAX_LINE_BYTES = 64 * 1024


class LLMError(Exception):
    """The model gave no usable answer; the message says why (never the key, never the body)."""


class ChatClient:
    """Streams one chat completion at a time from ``base_url``/chat/completions."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_seconds: float = 20.0,
                 max_tokens: int = 300, temperature: float = 0.2,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # The deadline for the whole answer is kept by ``stream``; these only stop a silent socket.
        self._client = httpx.AsyncClient(
            headers=headers, transport=transport, follow_redirects=False,
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def stream(self, messages: Sequence[dict[str, str]]) -> AsyncIterator[str]:
        """Yield the answer's text as it comes; raise LLMError on any failure.

        The deadline for the whole answer is the caller's (``asyncio.timeout(timeout_seconds)`` around
        the loop that consumes this): a generator cannot keep one across its yields.
        """
        body = {"model": self.model, "messages": list(messages), "stream": True,
                "max_tokens": self.max_tokens, "temperature": self.temperature}
        try:
            async with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code != 200:
                    raise LLMError(f"HTTP {response.status_code}")
                if response.headers.get("content-type", "").startswith("application/json"):
                    yield _whole_answer(await _read_bounded(response))
                    return
                async for text in _sse_deltas(response):
                    yield text
        except httpx.HTTPError as e:
            # The exception's text may quote the URL; never the headers. Only its kind is kept.
            raise LLMError(f"{type(e).__name__} talking to the model") from None

    async def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The whole answer at once, within ``timeout_seconds`` (the bench; the bot streams)."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                async with contextlib.aclosing(self.stream(messages)) as pieces:
                    return "".join([t async for t in pieces])
        except TimeoutError:
            raise LLMError(f"timed out after {self.timeout_seconds:g} s") from None


async def _read_bounded(response: httpx.Response) -> bytes:
    data = bytearray()
    async for piece in response.aiter_bytes():
        data += piece
        if len(data) > MAX_STREAM_BYTES:
            raise LLMError(f"answer longer than {MAX_STREAM_BYTES} bytes")
    return bytes(data)


def _whole_answer(raw: bytes) -> str:
    """The text of a non-streamed completion."""
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError("malformed completion") from None
    if not isinstance(content, str):
        raise LLMError("malformed completion")
    return content


async def _sse_deltas(response: httpx.Response) -> AsyncIterator[str]:
    """The ``delta.content`` of each SSE ``data:`` event, until ``[DONE]`` or the end of the body."""
    buffer = bytearray()
    total = chunks = 0
    async for piece in response.aiter_bytes():
        total += len(piece)
        if total > MAX_STREAM_BYTES:
            raise LLMError(f"stream longer than {MAX_STREAM_BYTES} bytes")
        buffer += piece
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if not line.startswith(b"data:"):
                continue  # blank separators, comments (": keep-alive"), event:/id: fields
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return
            chunks += 1
            if chunks > MAX_CHUNKS:
                raise LLMError(f"more than {MAX_CHUNKS} chunks")
            text = _delta(payload)
            if text:
                yield text
        if len(buffer) > MAX_LINE_BYTES:
            raise LLMError(f"an SSE line longer than {MAX_LINE_BYTES} bytes")
    if buffer.strip():
        raise LLMError("stream ended inside an event")


def _delta(payload: bytes) -> str:
    """The text of one chunk; a chunk without choices (usage, keep-alive) has none."""
    try:
        data: Any = json.loads(payload)
    except ValueError:
        raise LLMError("malformed chunk (not JSON)") from None
    if not isinstance(data, dict):
        raise LLMError("malformed chunk (not an object)")
    if "error" in data:
        raise LLMError("the model sent an error event")
    choices = data.get("choices")
    if not choices:
        return ""
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise LLMError("malformed chunk (choices)")
    delta = choices[0].get("delta") or choices[0].get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if content is None:
        return ""
    if not isinstance(content, str):
        raise LLMError("malformed chunk (content)")
    return content
