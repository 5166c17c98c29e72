"""Chat with the bot in a terminal: the real Application and handlers, no Telegram account.

``ConsoleRequest`` stands in for the Bot API. It answers getMe, setMyCommands, sendChatAction and
friends in-process and prints each sendMessage as plain text. ``run_console`` turns every line
read from stdin into an Update (a private message, or a button press typed as ``#1``) and awaits
``application.process_update`` for it, so replies come out in order, and it ends at EOF.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import sys
import time
from html.parser import HTMLParser
from typing import Any, TextIO

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

logger = logging.getLogger(__name__)

# The Application needs a token; nothing ever leaves the process with this one.
CONSOLE_TOKEN = "0:console"

BOT_USER = {"id": 1, "is_bot": True, "first_name": "NewsBot", "username": "newsbot_console"}
USER = {"id": 1000, "is_bot": False, "first_name": "你"}
CHAT = {"id": 1000, "type": "private", "first_name": "你"}


class _PlainText(HTMLParser):
    """Render Telegram HTML as terminal text: quotes indented, links followed by their URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[list[Any]] = []  # [quote kind ("", "quote" or "expandable"), text]
        self.quote_depth = 0
        self.expandable = False  # inside a <blockquote expandable>
        self.links: list[tuple[str | None, list[str]]] = []  # (href, text so far) of open <a>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "blockquote":
            self.quote_depth += 1
            self.expandable = "expandable" in dict(attrs)
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self.expandable = False
        elif tag == "a" and self.links:
            href, text = self.links.pop()
            if href and href != "".join(text):
                self._write(f" ({href})")

    def handle_data(self, data: str) -> None:
        for _, text in self.links:
            text.append(data)
        self._write(data)

    def _write(self, text: str) -> None:
        kind = ("expandable" if self.expandable else "quote") if self.quote_depth > 0 else ""
        if self.parts and self.parts[-1][0] == kind:
            self.parts[-1][1] += text
        else:
            self.parts.append([kind, text])

    def text(self) -> str:
        out = []
        for kind, text in self.parts:
            if kind:
                # A collapsed quote (Telegram shows its first lines until tapped) is marked with ┆.
                prefix = "    ┆ " if kind == "expandable" else "    "
                text = "\n".join(prefix + line for line in text.split("\n"))
            out.append(text)
        return "".join(out)


def html_to_text(html: str) -> str:
    """Return Telegram HTML as plain text: blockquotes as indented lines, bold as is."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return parser.text()


class ConsoleRequest(BaseRequest):
    """A Bot API in the same process: answers what the bot asks and prints what it sends."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buttons: list[tuple[str, str]] = []  # (label, callback data) of the last keyboard
        self.keyboard_message: dict[str, Any] | None = None  # the message holding them
        self._message_ids = itertools.count(1)
        self._draft = ""  # the draft printed so far ([llm] answers stream into it)

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        result = self.call(api_method, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def call(self, api_method: str, params: dict[str, Any]) -> Any:
        """Answer one Bot API call; print what a user would see."""
        name = api_method.lower()
        if name == "getme":
            return BOT_USER
        if name == "getupdates":
            return []
        if name == "sendmessagedraft":
            self._print_draft(params)
            return True
        if name == "sendmessage":
            return self._send_message(params)
        if name == "answercallbackquery":
            if params.get("text"):
                self.out.write(f"（{params['text']}）\n")
                self.out.flush()
            return True
        # setMyCommands, sendChatAction, deleteWebhook, ...: nothing to show.
        return True

    def _print_draft(self, params: dict[str, Any]) -> None:
        """Print a draft as it grows: only what is new since the last one (on a line of its own if it changed)."""
        text = str(params.get("text", ""))
        shown = html_to_text(text) if params.get("parse_mode") == "HTML" else text
        if shown.startswith(self._draft):
            self.out.write(shown[len(self._draft):])
        else:
            self.out.write(("\n" if self._draft else "") + shown)
        self._draft = shown
        self.out.flush()

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._draft:  # the final message replaces the draft, as in Telegram
            self.out.write("\n\n")
            self._draft = ""
        text = str(params.get("text", ""))
        shown = html_to_text(text) if params.get("parse_mode") == "HTML" else text
        self.out.write(shown.rstrip() + "\n")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        rows = (markup or {}).get("inline_keyboard", [])
        buttons = [(b["text"], b.get("callback_data", "")) for row in rows for b in row]
        if buttons:
            self.buttons = buttons
            labels = "  ".join(f"[#{n} {label}]" for n, (label, _) in enumerate(buttons, 1))
            self.out.write(labels + "\n")
        self.out.write("\n")
        self.out.flush()
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": params.get("chat_id", CHAT["id"]), "type": "private"},
            "from": BOT_USER,
            "text": html_to_text(text),
        }
        if buttons:
            message["reply_markup"] = markup
            self.keyboard_message = message
        return message


class _UpdateMaker:
    """Turn terminal lines into Bot API updates from one private chat."""

    def __init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1_000_000)

    def message(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": CHAT,
            "from": USER,
            "text": text,
        }
        command = re.match(r"/\w+(@\w+)?", text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command[0])}
            ]
        return {"update_id": next(self._update_ids), "message": message}

    def button(self, data: str, message: dict[str, Any] | None) -> dict[str, Any]:
        update_id = next(self._update_ids)
        query: dict[str, Any] = {
            "id": str(update_id),
            "from": USER,
            "chat_instance": "console",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        return {"update_id": update_id, "callback_query": query}


async def run_console(application: Application, lines: TextIO, out: TextIO) -> None:
    """Read questions and commands from ``lines`` until EOF and print the bot's replies to ``out``.

    The application must have been built with a ConsoleRequest writing to ``out``.
    """
    request = application.bot.request
    if not isinstance(request, ConsoleRequest):
        raise TypeError("run_console needs an application built with a ConsoleRequest")
    interactive = lines.isatty()
    make = _UpdateMaker()
    async with application:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if interactive:
            out.write("输入问题或命令（/help、/latest），按钮输入 #1、#2…；Ctrl-D 退出。\n")
        try:
            while True:
                if interactive:
                    out.write("> ")
                    out.flush()
                line = await asyncio.to_thread(lines.readline)
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                if not interactive:
                    out.write(f"> {text}\n")
                pressed = re.fullmatch(r"#(\d+)", text)
                if pressed and 1 <= int(pressed[1]) <= len(request.buttons):
                    data = request.buttons[int(pressed[1]) - 1][1]
                    update = make.button(data, request.keyboard_message)
                else:
                    update = make.message(text)
                await application.process_update(Update.de_json(update, application.bot))
        finally:
            await application.stop()


def use_utf8(*streams: TextIO) -> None:
    """Make text streams UTF-8 whatever the locale says (Chinese must survive a pipe)."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")


def main_console(application_factory: Any, out: TextIO = sys.stdout, lines: TextIO = sys.stdin) -> None:
    """Build the application with a ConsoleRequest and chat over ``lines`` / ``out``."""
    use_utf8(out, lines)
    request = ConsoleRequest(out)
    application = application_factory(request)
    asyncio.run(run_console(application, lines, out))
