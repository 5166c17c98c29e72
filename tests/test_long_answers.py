"""Readable long answers: long passages in an expandable blockquote, the best sentence up front."""

from __future__ import annotations

import io

from telegram import Update

from bot import formatting as fmt
from bot.app import build_application
from bot.newsindex import NewsIndex
from bot.config import BotConfig
from bot.html_split import split_message
from bot.console import CONSOLE_TOKEN, ConsoleRequest, html_to_text, run_console
from index.schema import PARAGRAPH, Hit, Passage, SearchResult
from tests.fakebotapi import parse_html
from tests.helpers import started

BEST = "关键的一句在这里。"
LONG = "前面的背景介绍。" * 12 + BEST + "后面还有很多说明。" * 8  # 96 + 9 + 72 characters
SHORT = "短段落的开头。" + BEST


def test_a_short_passage_is_quoted_as_before():
    assert fmt.quote_passage(SHORT, BEST) == f"<blockquote>短段落的开头。<b>{BEST}</b></blockquote>"


def test_a_long_passage_is_expandable_with_its_best_sentence_in_a_quote_before_it():
    html = fmt.quote_passage(LONG, BEST)
    lead, rest = html.split("\n")
    assert lead == f"<blockquote><b>{BEST}</b></blockquote>"
    assert rest.startswith("<blockquote expandable>前面的背景介绍。") and f"<b>{BEST}</b>" in rest
    assert parse_html(html) == (BEST + "\n" + LONG, [])


def test_a_long_passage_that_opens_with_its_best_sentence_needs_no_lead():
    text = BEST + "后面还有很多说明。" * 20
    assert fmt.quote_passage(text, BEST) == f"<blockquote expandable><b>{BEST}</b>{'后面还有很多说明。' * 20}</blockquote>"
    assert fmt.quote_passage(text, None) == f"<blockquote expandable>{text}</blockquote>"


def test_an_expandable_quote_split_across_messages_is_reopened_as_expandable():
    html = fmt.quote_passage("很长的一句话。" * 400, None)
    parts = split_message(html, 1000)
    assert len(parts) > 1
    assert all(p.startswith("<blockquote expandable>") and p.endswith("</blockquote>") for p in parts)
    assert all(parse_html(p)[1] == [] for p in parts)


def test_the_terminal_shows_the_lead_indented_and_the_collapsed_quote_marked():
    text = html_to_text(fmt.quote_passage(LONG, BEST))
    lead, collapsed = text.split("\n")
    assert lead == "    " + BEST and collapsed == "    ┆ " + LONG


class LongRetriever:
    """One long paragraph whose best sentence is in its middle, and one short one."""

    def search(self, query, k=3, now=None):
        passages = [Passage(1, "l1", 0, PARAGRAPH, LONG, "长文标题", "2020-02-09T10:00:00+08:00", "来源", None),
                    Passage(2, "l1", 1, PARAGRAPH, SHORT, "长文标题", "2020-02-09T10:00:00+08:00", "来源", None)]
        return SearchResult(query, [Hit(1, 0.9, passages[0], BEST), Hit(2, 0.8, passages[1], BEST)], True)

    def latest(self, n=10, keyword=None):
        return []

    def stats(self):
        return {}


async def test_the_bot_sends_a_long_passage_as_an_expandable_quote(make_bot, fake_bot_api):
    application = make_bot(LongRetriever())
    async with started(application):
        await application.process_update(Update.de_json(fake_bot_api.message_update("关键的是什么"), application.bot))
    [reply] = fake_bot_api.sent("sendMessage")
    html = reply["text"]  # the fake checked it: valid Telegram HTML, blockquote attributes included
    assert html.count("<blockquote expandable>") == 1  # the long passage only
    assert html.index(f"<blockquote><b>{BEST}</b></blockquote>") < html.index("<blockquote expandable>")
    assert f"<blockquote>短段落的开头。<b>{BEST}</b></blockquote>" in html  # the short one as before


async def test_the_terminal_chat_shows_the_same_structure():
    out = io.StringIO()
    request = ConsoleRequest(out)
    application = build_application(BotConfig(token=CONSOLE_TOKEN), NewsIndex(LongRetriever()), request=request,
                                    get_updates_request=request)
    await run_console(application, io.StringIO("关键的是什么\n"), out)
    text = out.getvalue()
    assert f"    {BEST}\n    ┆ 前面的背景介绍。" in text and "    ┆ " + LONG in text
    assert "    " + SHORT in text and "    ┆ " + SHORT not in text


def test_the_fake_refuses_blockquote_attributes_telegram_does_not_know_and_nesting():
    assert parse_html("<blockquote expandable>x</blockquote>")[1] == []
    assert parse_html('<blockquote class="x">x</blockquote>')[1]
    assert parse_html("<blockquote><blockquote expandable>x</blockquote></blockquote>")[1]
