"""The fake Bot API itself: it must reject what Telegram would reject, and answer in spec shape."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakebotapi import TOKEN, FakeBotApi, parse_html


@pytest.fixture
def api(bot_api_spec):
    return FakeBotApi(bot_api_spec)


async def post(api: FakeBotApi, method: str, data: dict | None = None, token: str = TOKEN):
    async with httpx.AsyncClient(transport=api.transport()) as client:
        response = await client.post(f"https://api.telegram.org/bot{token}/{method}", data=data)
    return response.status_code, response.json()


async def test_accepts_a_valid_send_message_and_answers_a_message(api):
    markup = {"inline_keyboard": [[{"text": "更多", "callback_data": "more:ab12cd34:3"}]]}
    code, body = await post(
        api,
        "sendMessage",
        {"chat_id": "1001", "text": "<b>粗体</b> &amp; 正文", "parse_mode": "HTML",
         "link_preview_options": json.dumps({"is_disabled": True}),
         "reply_markup": json.dumps(markup)},
    )
    assert code == 200 and body["ok"] is True, body
    message = body["result"]
    assert {"message_id", "date", "chat", "from", "text"} <= set(message)
    assert message["text"] == "粗体 & 正文"
    assert message["chat"]["id"] == 1001
    assert api.calls[0].params["reply_markup"] == markup
    assert api.violations == []


async def test_rejects_an_unknown_method(api):
    code, body = await post(api, "sendTelepathy", {"chat_id": "1"})
    assert code == 400 and body["ok"] is False and body["error_code"] == 400
    assert "unknown method" in body["description"]
    assert api.violations


async def test_rejects_a_missing_required_parameter(api):
    code, body = await post(api, "sendMessage", {"chat_id": "1001"})
    assert code == 400
    assert "missing required parameter 'text'" in body["description"]
    assert api.violations


async def test_rejects_an_unknown_parameter(api):
    code, body = await post(api, "sendMessage", {"chat_id": "1", "text": "x", "colour": "red"})
    assert code == 400 and "unknown parameter 'colour'" in body["description"]


@pytest.mark.parametrize(
    "method, data, needle",
    [
        ("sendMessage", {"chat_id": "abc", "text": "x", "message_thread_id": "1.5"}, "is not Integer"),
        ("sendMessage", {"chat_id": "1", "text": "x", "disable_notification": "yes"}, "is not Boolean"),
        ("sendMessage", {"chat_id": "1", "text": "x", "reply_markup": "{not json"}, "not JSON"),
        ("sendMessage", {"chat_id": "1", "text": "x",
                         "reply_markup": json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]})},
         "callback_data is 65 bytes"),
        ("sendMessage", {"chat_id": "1", "text": "x",
                         "reply_markup": json.dumps({"inline_keyboard": [[{"label": "a"}]]})},
         "unknown field 'label' in InlineKeyboardButton"),
        ("answerCallbackQuery", {"callback_query_id": "q", "cache_time": "soon"}, "is not Integer"),
        ("setMyCommands", {"commands": json.dumps([{"command": "ask"}])}, "lacks required field 'description'"),
    ],
)
async def test_rejects_wrong_types_and_malformed_json(api, method, data, needle):
    code, body = await post(api, method, data)
    assert code == 400
    assert needle in " ".join(api.violations), api.violations


@pytest.mark.parametrize(
    "text, needle",
    [
        ("<b>open", "unclosed tags"),
        ("a < b", "unescaped '<'"),
        ("fish & chips", "unescaped &"),
        ("<b><i>x</b></i>", "unexpected end tag"),
        ("<div>x</div>", "unsupported tag"),
        ("x" * 4097, "4097 characters"),
        ("   ", "0 characters"),
    ],
)
async def test_rejects_what_telegram_cannot_parse_or_is_too_long(api, text, needle):
    code, _ = await post(api, "sendMessage", {"chat_id": "1", "text": text, "parse_mode": "HTML"})
    assert code == 400
    assert needle in " ".join(api.violations), api.violations


async def test_text_limit_counts_parsed_text_not_markup(api):
    text = "<b>" + "字" * 4096 + "</b>"  # 4103 characters of HTML, 4096 of text
    code, _ = await post(api, "sendMessage", {"chat_id": "1", "text": text, "parse_mode": "HTML"})
    assert code == 200 and api.violations == []


async def test_wrong_token_is_unauthorized(api):
    code, body = await post(api, "getMe", token="1:wrong")
    assert code == 401 and body["ok"] is False


async def test_get_updates_serves_queued_updates_after_offset(api):
    first = api.enqueue(api.message_update("你好"))
    second = api.enqueue(api.message_update("/latest"))
    code, body = await post(api, "getUpdates", {"timeout": "0"})
    assert [u["update_id"] for u in body["result"]] == [first["update_id"], second["update_id"]]
    assert body["result"][1]["message"]["entities"][0]["type"] == "bot_command"
    code, body = await post(api, "getUpdates", {"offset": str(second["update_id"] + 1), "timeout": "0"})
    assert code == 200 and body["result"] == []


def test_updates_built_for_tests_are_checked_against_the_spec(api):
    with pytest.raises(AssertionError, match="spec rejects"):
        api.message_update("hi", chat={"id": 1})  # a Chat needs its type


def test_parse_html_returns_plain_text():
    text, problems = parse_html('<blockquote>引文 <b>重点</b></blockquote>\n<a href="https://e.x/?a=1&amp;b=2">链接</a> &lt;&#34;')
    assert problems == []
    assert text == '引文 重点\n链接 <"'
