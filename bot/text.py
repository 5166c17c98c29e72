"""Text helpers every reply uses: China time, Telegram's message limits and length, escaping, shortening.

Pure functions and constants only; nothing here talks to Telegram.
"""

from __future__ import annotations

from html import escape

from index.chinatime import CHINA_TZ  # the corpus's time zone (UTC+8, no daylight saving since 1991)

__all__ = ["CHINA_TZ", "MAX_MESSAGE_CHARS", "MAX_CALLBACK_DATA_BYTES", "tg_len", "esc", "shorten", "first_chars"]

# Telegram's limit for one message is 4096 characters (UTF-16 code units) after entity parsing.
# Replies measure their HTML source with ``tg_len``, which is never shorter than the parsed text.
MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64


def tg_len(text: str) -> int:
    """Return the length of ``text`` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def esc(text: str) -> str:
    """Escape text for Telegram HTML (only <, > and & need it outside attributes)."""
    return escape(text, quote=False)


def shorten(text: str, limit: int) -> str:
    """Squeeze whitespace to single spaces; past ``limit`` characters, cut and end with "…"."""
    text = " ".join(text.split())
    # A cut at a space would leave "… " looking like a word was dropped: no space before the "…".
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_chars(paragraphs, budget: int) -> list[str]:
    """The paragraphs up to `budget` characters in all, the last one cut if needed."""
    out: list[str] = []
    for p in paragraphs:
        if budget <= 0:
            break
        out.append(p[:budget])
        budget -= len(out[-1])
    return out
