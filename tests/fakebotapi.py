"""A fake Telegram Bot API for tests, checked against the published spec.

The real python-telegram-bot ``Application`` talks to it over HTTP through
``httpx.MockTransport`` (``HTTPXRequest(httpx_kwargs={"transport": fake.transport()})``), so every
byte the bot sends is what it would send to Telegram. Each request is checked against
``api-10.0.json`` (from ../shared): unknown method, unknown parameter, missing required parameter,
wrong basic type (Integer/String/Boolean/…), JSON parameters that do not parse or do not match
their object type, plus a few limits that live only in the docs' prose (4096 characters of text
after entity parsing, well-formed Telegram HTML, callback data of 1-64 bytes). A bad request gets
Telegram's error envelope (HTTP 400) and is kept in ``violations``; the ``fake_bot_api`` fixture
fails the test when any were recorded.

Answers are spec-shaped objects (a Message has message_id, date, chat, from, text…; getChatMember
gives a ChatMemberOwner, ChatMemberAdministrator or ChatMemberMember by ``admins``), themselves
checked against the spec. Members of a union type (ChatMember, BotCommandScope, …) must carry the
discriminator their spec fixes (``status`` always "creator", ``type`` must be all_group_chats, …).
``sendMessageDraft`` (Bot API 10.0: a private chat's streamed preview) is checked too: a private
chat, a non-zero ``draft_id``, 0-4096 characters of well-formed HTML. Every call is recorded in ``calls``; updates queued with ``enqueue`` are served by getUpdates (long polling honours ``offset`` and waits briefly for new updates).

Faults (``fail``) make the next calls of a method go wrong the way Telegram and networks do:
``retry_after`` (HTTP 429 with ``parameters.retry_after``), ``server_error`` (5xx), ``connect_error``
(the request never arrives), ``read_timeout`` and ``dropped`` (the request is carried out but the
answer is lost: a timeout, or the connection closed without a response), and ``slow`` (the answer
comes after ``delay`` seconds, or a ReadTimeout once the client's read timeout has passed).
``redeliver`` makes the next getUpdates serve the previous batch again, ignoring ``offset``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / "shared/data/telegram-bot-api-spec/api-10.0.json"
)

TOKEN = "123456789:AAFakeTokenForTests-0123456789abcdefgh"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "News",
    "username": "news_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "language_code": "zh-hans"}
BOB = {"id": 1002, "is_bot": False, "first_name": "Bob"}
PRIVATE_CHAT = {"id": 1001, "type": "private", "first_name": "Alice"}
GROUP_CHAT = {"id": -100123, "type": "supergroup", "title": "新闻讨论组"}

# Telegram HTML (https://core.telegram.org/bots/api#html-style).
HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}
HTML_NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64


class BotApiSpec:
    """The methods and types of one Bot API version, and checks of values against them."""

    def __init__(self, data: dict[str, Any]):
        self.version: str = data["version"]
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        self._by_lower = {name.lower(): name for name in self.methods}

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> "BotApiSpec":
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def method(self, name: str) -> dict[str, Any] | None:
        """The spec of a method; names are case-insensitive, as in the Bot API."""
        real = self._by_lower.get(name.lower())
        return self.methods[real] if real else None

    # --- requests -----------------------------------------------------------------------------

    def check_call(self, method: str, params: dict[str, str]) -> list[str]:
        """Problems with a call whose parameters arrive as strings (form fields or query string)."""
        spec = self.method(method)
        if spec is None:
            return [f"unknown method {method!r}"]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [f"{method}: unknown parameter {name!r}" for name in params if name not in fields]
        problems += [
            f"{method}: missing required parameter {name!r}"
            for name, f in fields.items()
            if f["required"] and name not in params
        ]
        for name, raw in params.items():
            if name in fields:
                problems += self.check_raw(raw, fields[name]["types"], f"{method}.{name}")
        return problems

    def check_raw(self, raw: str, types: list[str], where: str) -> list[str]:
        """Check a parameter as sent: scalars as text, everything else as JSON."""
        attempts = []
        for t in types:
            if t == "String":
                return []
            if t == "Integer":
                ok = re.fullmatch(r"-?\d+", raw) is not None
            elif t == "Float":
                ok = _is_float(raw)
            elif t == "Boolean":
                ok = raw in ("true", "false")
            elif t == "True":
                ok = raw == "true"
            elif t == "InputFile":
                ok = True  # a file_id, a URL or attach://name
            else:
                try:
                    value = json.loads(raw)
                except ValueError:
                    attempts.append(f"{where}: {raw[:60]!r} is not JSON for {t}")
                    continue
                problems = self.check_value(value, t, where)
                if not problems:
                    return []
                attempts.extend(problems)
                continue
            if ok:
                return []
            attempts.append(f"{where}: {raw[:60]!r} is not {t}")
        return attempts[:5] or [f"{where}: no type in {types}"]

    def check_value(self, value: Any, type_name: str, where: str) -> list[str]:
        """Problems with a JSON value against a spec type string (recursing into objects)."""
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}, got {type(value).__name__}"]
            inner = type_name[len("Array of ") :]
            return [p for i, v in enumerate(value) for p in self.check_value(v, inner, f"{where}[{i}]")]
        scalar = {
            "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "String": lambda v: isinstance(v, str),
            "Boolean": lambda v: isinstance(v, bool),
            "True": lambda v: v is True,
            "InputFile": lambda v: isinstance(v, str),
        }
        if type_name in scalar:
            return [] if scalar[type_name](value) else [f"{where}: {value!r} is not {type_name}"]
        if type_name not in self.types:
            return [f"{where}: unknown type {type_name}"]
        return self.check_object(value, type_name, where)

    def check_object(self, value: Any, type_name: str, where: str) -> list[str]:
        spec = self.types[type_name]
        if not isinstance(value, dict):
            return [f"{where}: expected a {type_name} object, got {type(value).__name__}"]
        if spec.get("subtypes"):
            attempts = [self.check_object(value, sub, where) for sub in spec["subtypes"]]
            if any(not a for a in attempts):
                return []
            return [f"{where}: matches no subtype of {type_name}"] + min(attempts, key=len)
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [f"{where}: unknown field {k!r} in {type_name}" for k in value if k not in fields]
        if spec.get("subtype_of"):
            # A member of a union is told apart by one field the spec fixes in prose.
            for key, f in fields.items():
                fixed = _DISCRIMINATOR.search(f.get("description", "")) if f["types"] == ["String"] else None
                if fixed and key in value and value[key] != fixed[1]:
                    problems.append(f"{where}: {type_name}.{key} must be {fixed[1]!r}, got {value[key]!r}")
        problems += [
            f"{where}: {type_name} lacks required field {k!r}"
            for k, f in fields.items()
            if f["required"] and k not in value
        ]
        for key, v in value.items():
            if key in fields:
                options = [self.check_value(v, t, f"{where}.{key}") for t in fields[key]["types"]]
                if all(options):
                    problems += min(options, key=len)
        if type_name == "InlineKeyboardButton" and "callback_data" in value:
            size = len(str(value["callback_data"]).encode())
            if not 1 <= size <= MAX_CALLBACK_DATA:
                problems.append(f"{where}: callback_data is {size} bytes (1-64 allowed)")
        return problems


# 'always "creator"' (ChatMemberOwner.status), 'must be all_group_chats' (BotCommandScope…type).
_DISCRIMINATOR = re.compile(r'(?:always|must be) "?([\w-]+)"?\s*$')


def _is_float(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def parse_html(text: str) -> tuple[str, list[str]]:
    """Parse Telegram HTML as the Bot API does: return (plain text, problems)."""
    problems: list[str] = []
    out: list[str] = []
    stack: list[str] = []
    for match in re.finditer(r"<[^<>]*>|&[^;\s&<>]*;?|[<>]|[^<>&]+", text):
        token = match.group()
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            tag = re.match(r"</?\s*([a-zA-Z][\w-]*)", token)
            name = tag[1].lower() if tag else ""
            if name not in HTML_TAGS:
                problems.append(f"unsupported tag {token!r}")
            elif token.startswith("</"):
                if not stack or stack[-1] != name:
                    problems.append(f"unexpected end tag {token!r} (open: {stack})")
                else:
                    stack.pop()
            else:
                if name == "a" and not re.search(r'\shref="[^"]*"', token):
                    problems.append(f"<a> without href: {token!r}")
                if name == "blockquote" and not re.fullmatch(r"<blockquote(?: expandable)?>", token):
                    problems.append(f"blockquote takes only 'expandable': {token!r}")
                if name == "blockquote" and "blockquote" in stack:
                    problems.append("a blockquote inside a blockquote")
                stack.append(name)
        elif token.startswith("&"):
            entity = re.fullmatch(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", token)
            if not entity or (entity[1][0] != "#" and entity[1] not in HTML_NAMED_ENTITIES):
                problems.append(f"unescaped & or unsupported entity {token!r}")
            out.append(unescape(token))
        elif token in ("<", ">") or token.startswith("<"):
            problems.append(f"unescaped {token!r}")
            out.append(token)
        else:
            out.append(token)
    if stack:
        problems.append(f"unclosed tags {stack}")
    return "".join(out), problems


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]  # JSON parameters decoded
    url: str
    result: Any = None
    problems: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # when the request reached the fake
    delivered: bool = True  # False: a fault answered instead (429, 5xx, connection refused)
    fault: str | None = None


FAULTS = ("retry_after", "server_error", "connect_error", "read_timeout", "dropped", "slow")


@dataclass
class Fault:
    """How one call goes wrong (see the module docstring)."""

    kind: str
    retry_after: int = 1
    status: int = 500
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {FAULTS}")


class FakeBotApi:
    """An in-process Bot API: validates, records and answers the bot's requests."""

    def __init__(self, spec: BotApiSpec, token: str = TOKEN, bot_user: dict | None = None):
        self.spec = spec
        self.token = token
        self.bot_user = dict(bot_user or BOT_USER)
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.commands: list[dict] = []
        self.messages: dict[tuple[int, int], dict] = {}  # (chat_id, message_id) -> Message
        self.chats: dict[int, dict] = {PRIVATE_CHAT["id"]: PRIVATE_CHAT, GROUP_CHAT["id"]: GROUP_CHAT}
        self.users: dict[int, dict] = {u["id"]: u for u in (ALICE, BOB, self.bot_user)}
        # chat id -> {user id: "creator" | "administrator"}; everyone else is a plain member.
        self.admins: dict[int, dict[int, str]] = {}
        self.commands_by_scope: dict[str, list[dict]] = {}  # scope type -> the menu set for it
        self.on_call: Callable[[Call], None] | None = None  # runs after each recorded call
        self._updates: list[dict] = []
        self._faults: dict[str, list[Fault]] = {}  # method (lower case) -> faults for its next calls
        self._redeliver = 0
        self._last_batch: list[dict] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def transport(self) -> httpx.MockTransport:
        """The httpx transport to give HTTPXRequest."""
        return httpx.MockTransport(self.handle)

    # --- what the tests read ----------------------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict]:
        """Parameters of every successful call to ``method`` (optionally to one chat)."""
        return [
            c.params
            for c in self.calls
            if c.method.lower() == method.lower()
            and not c.problems
            and c.delivered
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Plain text (after HTML parsing) of every message sent."""
        out = []
        for params in self.sent("sendMessage", chat_id):
            text = params["text"]
            out.append(parse_html(text)[0] if params.get("parse_mode") == "HTML" else text)
        return out

    def forget_calls(self) -> None:
        self.calls.clear()

    # --- faults -------------------------------------------------------------------------------

    def fail(self, method: str, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` calls of ``method`` meet the fault ``kind`` (see the docstring)."""
        self._faults.setdefault(method.lower(), []).extend(Fault(kind, **options) for _ in range(times))

    def redeliver(self, times: int = 1) -> None:
        """Make the next ``times`` getUpdates serve the previous batch again, ignoring ``offset``."""
        self._redeliver += times

    def faults_left(self) -> int:
        """How many injected faults have not happened yet."""
        return sum(len(f) for f in self._faults.values()) + self._redeliver

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method.lower())
        return queue.pop(0) if queue else None

    # --- updates ------------------------------------------------------------------------------

    def enqueue(self, update: dict) -> dict:
        """Queue an update for getUpdates."""
        self._updates.append(update)
        self._new_update.set()
        return update

    def message_update(
        self,
        text: str,
        *,
        chat: dict = PRIVATE_CHAT,
        user: dict = ALICE,
        entities: list[dict] | None = None,
        reply_to: dict | None = None,
        date: int | None = None,
    ) -> dict:
        """An update carrying a new text message (a leading /command gets its entity).

        ``date`` (Unix time) defaults to now.
        """
        self.users.setdefault(user["id"], user)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()) if date is None else date,
            "chat": chat,
            "from": user,
            "text": text,
        }
        entities = list(entities or [])
        command = re.match(r"/[A-Za-z0-9_]+(@\w+)?", text)
        if command:
            entities.insert(0, {"type": "bot_command", "offset": 0, "length": len(command[0])})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self.messages[(chat["id"], message["message_id"])] = message
        return self._update(message=message)

    def edited_update(self, message: dict, text: str, *, edit_date: int | None = None) -> dict:
        """An update saying a user edited ``message`` (as sent in an earlier update) to ``text``."""
        edited = {k: v for k, v in message.items() if k != "entities"}
        edited["text"] = text
        edited["edit_date"] = int(time.time()) if edit_date is None else edit_date
        command = re.match(r"/[A-Za-z0-9_]+(@\w+)?", text)
        if command:
            edited["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command[0])}]
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        return self._update(edited_message=edited)

    def make_admin(self, chat_id: int, user: dict, status: str = "administrator") -> None:
        """Make ``user`` an administrator (or, with status "creator", the owner) of the chat."""
        if status not in ("creator", "administrator"):
            raise ValueError(f"not an admin status: {status!r}")
        self.users.setdefault(user["id"], user)
        self.admins.setdefault(chat_id, {})[user["id"]] = status

    def mention_update(self, text: str, *, chat: dict = GROUP_CHAT, user: dict = ALICE) -> dict:
        """A group message that @mentions the bot where ``@bot`` appears in ``text``."""
        mention = "@" + self.bot_user["username"]
        offset = utf16_len(text[: text.index(mention)])
        entity = {"type": "mention", "offset": offset, "length": utf16_len(mention)}
        return self.message_update(text, chat=chat, user=user, entities=[entity])

    def callback_update(self, data: str, message: dict, *, user: dict = ALICE) -> dict:
        """A press of an inline button with ``data`` under the bot's ``message``."""
        update_id = next(self._update_ids)
        query = {
            "id": f"cq{update_id}",
            "from": user,
            "message": message,
            "chat_instance": "ci-1",
            "data": data,
        }
        return {"update_id": update_id, "callback_query": query}

    def inline_query_update(self, query: str, *, user: dict = ALICE, chat_type: str = "sender") -> dict:
        """``@bot query`` typed in a chat; only a bot with inline mode on (BotFather /setinline) gets these."""
        if not self.bot_user.get("supports_inline_queries"):
            raise AssertionError("Telegram sends inline queries only to bots with inline mode on")
        update_id = next(self._update_ids)
        inline = {"id": f"iq{update_id}", "from": user, "query": query, "offset": "", "chat_type": chat_type}
        return self._update(inline_query=inline)

    def message(self, chat: dict = PRIVATE_CHAT, user: dict | None = ALICE, **fields: Any) -> dict:
        """A Message with a fresh id, from ``user`` in ``chat``, plus ``fields`` (sticker, photo…)."""
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}
        if user is not None:
            self.users.setdefault(user["id"], user)
            message["from"] = user
        message.update(fields)
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def update(self, **payload: Any) -> dict:
        """An update of any kind (``message=…``, ``channel_post=…``, ``poll=…``), checked against the spec."""
        return self._update(**payload)

    def _update(self, **payload: Any) -> dict:
        update = {"update_id": next(self._update_ids), **payload}
        problems = self.spec.check_value(update, "Update", "test update")
        if problems:
            raise AssertionError(f"the test built an update the spec rejects: {problems}")
        return update

    # --- HTTP -----------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r".*/bot([^/]*)/([A-Za-z]+)", request.url.path)
        if not match:
            return self._error(404, f"Not Found: {request.url.path}", record=True)
        token, method = match.groups()
        if token != self.token:
            return self._error(401, "Unauthorized", record=True)
        try:
            raw = _request_params(request)
        except ValueError as e:
            return self._error(400, f"Bad Request: {e}", record=True)
        problems = self.spec.check_call(method, raw)
        params = {k: _decode(v) for k, v in raw.items()}
        call = Call(method, params, str(request.url), problems=problems)
        if not problems:
            problems += self._prose_rules(method, params)
        self.calls.append(call)
        if problems:
            call.problems = problems
            self.violations.extend(problems)
            return self._error(400, "Bad Request: " + "; ".join(problems[:3]))
        fault = self._take_fault(method)
        if fault is not None:
            call.fault = fault.kind
            if fault.kind in ("retry_after", "server_error", "connect_error"):
                call.delivered = False  # Telegram did nothing
                if fault.kind == "connect_error":
                    # Like a real connection error, and with the URL (token included) in its text.
                    raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)
                if fault.kind == "retry_after":
                    return httpx.Response(429, json={
                        "ok": False, "error_code": 429,
                        "description": f"Too Many Requests: retry after {fault.retry_after}",
                        "parameters": {"retry_after": fault.retry_after},
                    })
                return self._error(fault.status, "Internal Server Error" if fault.status == 500 else "Bad Gateway")
        if method.lower() == "getupdates":
            result: Any = await self._get_updates(params)
        else:
            result = self._answer(method, params)
        spec = self.spec.method(method)
        returns = spec["returns"] if spec else []
        if not any(not self.spec.check_value(result, t, f"fake's {method} result") for t in returns):
            raise AssertionError(f"the fake answered {method} with a non-spec result: {result!r}")
        call.result = result
        if self.on_call is not None:
            self.on_call(call)
        if fault is not None:
            # Done, but the answer is lost (or late): the bot cannot know whether it happened.
            if fault.kind == "read_timeout":
                raise httpx.ReadTimeout("timed out reading the response", request=request)
            if fault.kind == "dropped":
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            if fault.kind == "slow":
                limit = (request.extensions.get("timeout") or {}).get("read")
                if limit is not None and fault.delay > limit:
                    await asyncio.sleep(limit)
                    raise httpx.ReadTimeout("timed out reading the response", request=request)
                await asyncio.sleep(fault.delay)
        return httpx.Response(200, json={"ok": True, "result": result})

    def _error(self, code: int, description: str, record: bool = False) -> httpx.Response:
        if record:
            self.violations.append(description)
        return httpx.Response(code, json={"ok": False, "error_code": code, "description": description})

    def _prose_rules(self, method: str, params: dict[str, Any]) -> list[str]:
        """Limits the spec states only in prose."""
        problems = []
        name = method.lower()
        if name in ("sendmessage", "editmessagetext"):
            text = params["text"]
            if params.get("parse_mode") == "HTML":
                text, html_problems = parse_html(text)
                problems += [f"{method}.text: {p}" for p in html_problems]
            elif params.get("parse_mode"):
                problems.append(f"{method}: the fake only parses HTML, not {params['parse_mode']}")
            size = utf16_len(text.strip())
            if not 1 <= size <= MAX_TEXT:
                problems.append(f"{method}.text is {size} characters after parsing (1-4096)")
        if name == "sendmessagedraft":
            # "the target private chat"; "must be non-zero"; "0-4096 characters after entities parsing".
            chat = self.chats.get(int(params["chat_id"]))
            if chat is None or chat["type"] != "private":
                problems.append(f"sendMessageDraft: chat {params['chat_id']} is not a private chat")
            if int(params["draft_id"]) == 0:
                problems.append("sendMessageDraft: draft_id must be non-zero")
            text = params.get("text", "")
            if params.get("parse_mode") == "HTML":
                text, html_problems = parse_html(text)
                problems += [f"{method}.text: {p}" for p in html_problems]
            if utf16_len(text) > MAX_TEXT:
                problems.append(f"{method}.text is {utf16_len(text)} characters after parsing (0-4096)")
        if name == "answercallbackquery" and len(params.get("text", "")) > 200:
            problems.append("answerCallbackQuery.text is longer than 200 characters")
        if name == "answerinlinequery":
            problems += _inline_results_problems(params["results"])
        if name == "setmycommands":
            for c in params["commands"]:
                if not re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]):
                    problems.append(f"bad command name {c['command']!r}")
                if not 1 <= len(c["description"]) <= 256:
                    problems.append(f"bad description for /{c['command']}")
        return problems

    async def _get_updates(self, params: dict[str, Any]) -> list[dict]:
        offset = int(params.get("offset", 0))
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            try:
                # Long polling, shortened so that tests stop quickly.
                await asyncio.wait_for(self._new_update.wait(), min(float(params.get("timeout", 0)), 0.2))
            except TimeoutError:
                pass
        limit = int(params.get("limit", 100))
        batch = self._updates[:limit]
        if self._redeliver and self._last_batch:
            # A server that forgot the offset: the previous batch again, then anything new.
            self._redeliver -= 1
            old = self._last_batch
            batch = old + [u for u in batch if u not in old]
        if batch:
            self._last_batch = batch
        return batch

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        name = method.lower()
        if name == "getme":
            return self.bot_user
        if name == "sendmessage":
            return self._new_bot_message(params)
        if name == "setmycommands":
            scope = params.get("scope", {"type": "default"})["type"]
            self.commands_by_scope[scope] = params["commands"]
            if scope == "default":
                self.commands = params["commands"]
            return True
        if name == "getmycommands":
            return self.commands
        if name == "getchatmember":
            return self._chat_member(int(params["chat_id"]), int(params["user_id"]))
        if name == "getchatadministrators":
            chat_id = int(params["chat_id"])
            return [self._chat_member(chat_id, user_id) for user_id in self.admins.get(chat_id, {})]
        if name == "deletemycommands":
            self.commands = []
            return True
        spec = self.spec.method(method)
        if spec and spec["returns"] == ["Boolean"]:
            # sendChatAction, answerCallbackQuery, deleteWebhook, setWebhook, close, …
            return True
        raise AssertionError(f"the fake does not implement {method}")

    def _chat_member(self, chat_id: int, user_id: int) -> dict:
        """A ChatMember in spec shape: the owner, an administrator, or a plain member."""
        if chat_id not in self.chats:
            raise AssertionError(f"the fake knows no chat {chat_id}")
        user = self.users.get(user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"})
        status = self.admins.get(chat_id, {}).get(user_id, "member")
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            rights = {
                f["name"]: f["name"] in ("can_manage_chat", "can_delete_messages", "can_invite_users")
                for f in self.spec.types["ChatMemberAdministrator"]["fields"]
                if f["required"] and f["types"] == ["Boolean"]
            }
            return {"status": "administrator", "user": user, **rights}
        return {"status": "member", "user": user}

    def _new_bot_message(self, params: dict[str, Any]) -> dict:
        chat_id = int(params["chat_id"])
        text = params["text"]
        if params.get("parse_mode") == "HTML":
            text = parse_html(text)[0]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chats.get(chat_id, {"id": chat_id, "type": "private"}),
            "from": self.bot_user,
            "text": text,
        }
        if "message_thread_id" in params:
            message["message_thread_id"] = int(params["message_thread_id"])
        reply = params.get("reply_parameters")
        if reply is not None:
            replied = self.messages.get((chat_id, int(reply["message_id"])))
            if replied is None and not reply.get("allow_sending_without_reply"):
                self.violations.append(f"reply to unknown message {reply['message_id']}")
            elif replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message


MAX_INLINE_RESULTS = 50


def _inline_results_problems(results: list[dict]) -> list[str]:
    """answerInlineQuery's prose limits: at most 50 results, unique ids of 1-64 bytes, texts as sendMessage's."""
    problems = []
    if len(results) > MAX_INLINE_RESULTS:
        problems.append(f"answerInlineQuery: {len(results)} results (at most {MAX_INLINE_RESULTS})")
    ids = [str(r.get("id", "")) for r in results]
    if len(set(ids)) != len(ids):
        problems.append(f"answerInlineQuery: result ids repeat: {ids}")
    problems += [f"answerInlineQuery: result id {i!r} is not 1-64 bytes" for i in ids if not 1 <= len(i.encode()) <= 64]
    for r in results:
        content = r.get("input_message_content") or {}
        if "message_text" not in content:
            continue
        text = content["message_text"]
        if content.get("parse_mode") == "HTML":
            text, html_problems = parse_html(text)
            problems += [f"answerInlineQuery result {r.get('id')!r}: {p}" for p in html_problems]
        elif content.get("parse_mode"):
            problems.append(f"answerInlineQuery: the fake only parses HTML, not {content['parse_mode']}")
        if not 1 <= utf16_len(text.strip()) <= MAX_TEXT:
            problems.append(f"answerInlineQuery result {r.get('id')!r}: message_text is not 1-4096 characters")
    return problems


def _request_params(request: httpx.Request) -> dict[str, str]:
    """Parameters of a request as strings: query string, form, JSON or multipart."""
    params = dict(urllib.parse.parse_qsl(request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query))
    body = request.content
    ctype = request.headers.get("content-type", "")
    if not body:
        return params
    if ctype.startswith("application/x-www-form-urlencoded"):
        params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    elif ctype.startswith("application/json"):
        data = json.loads(body)
        params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    elif ctype.startswith("multipart/form-data"):
        raise ValueError("multipart uploads are not supported by the fake")
    else:
        raise ValueError(f"unsupported content type {ctype!r}")
    return params


def _decode(raw: str) -> Any:
    """A parameter's value for the tests: JSON objects and arrays decoded, the rest kept as text."""
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
