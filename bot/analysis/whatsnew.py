"""'What's new' questions (今天有什么新闻, 最近有啥新消息): told apart by rules, answered with headlines.

A question asks for news rather than a fact when it names news (新闻, 消息, 头条…) or asks what
happened (发生了什么), and nothing is left once its time words (``index.search.timeq``), news words, question
words and fillers are taken out: "最近疫情有什么新消息" keeps "疫情" and goes to the search.
``is_whats_new`` is pure; ``answer`` reads the retriever (call it off the loop); ``bot.digest_format`` formats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from index.chinatime import CHINA_TZ, china_today
from index.ingest.clean import clean_text
from index.schema import Headline
from index.search.timeq import parse_time_query

from .digest import DigestItem, NewsReader, build_digest, extract, headline_time

# Words that make a question about news as such.
NEWS_WORDS = (
    "新闻", "新消息", "消息", "头条", "要闻", "大事", "热点", "新鲜事", "时事", "资讯", "快讯", "动态",
    "新情况", "发生了什么", "发生什么", "出了什么事", "出什么事", "早报", "晚报", "简报",
)
# Time words timeq does not take out (it reads 今天, 昨天, 本周, 最近三天, 最新, 最近…).
_TIME_FILLERS = (
    "这两天", "这几天", "近几天", "这些天", "这阵子", "现在", "目前", "刚刚", "刚才", "眼下", "当前",
    "今早", "今晚", "早上", "上午", "中午", "下午", "晚上", "今天早上", "一早",
)
# Question words and fillers that carry no topic.
_FILLERS = (
    "请问", "请", "帮我", "给我", "跟我", "替我", "告诉我", "我想知道", "想知道", "我想看", "想看", "看看", "看一下",
    "说说", "说一下", "讲讲", "讲一下", "聊聊", "介绍一下", "播报", "汇总", "盘点", "总结", "整理", "列一下",
    "来点", "来几条", "来一些", "推荐", "一下", "有没有", "有什么", "有啥", "有哪些", "有何", "什么", "甚么", "啥",
    "哪些", "几条", "一些", "些", "都", "有", "的", "了", "吗", "呢", "吧", "呀", "啊", "哈", "嘛", "么",
    "重要", "重大", "主要", "热门", "值得关注", "值得看", "看", "摘要", "发生", "新", "最", "国内外", "天下", "世界上", "事情", "事儿", "事",
    "条", "个", "我", "们", "你", "知道", "是", "就", "还", "又", "可以", "能", "刚出", "出了",
)
_NEWS = re.compile("|".join(sorted(map(re.escape, NEWS_WORDS), key=len, reverse=True)))
_NOISE = re.compile("|".join(sorted(map(re.escape, _TIME_FILLERS + _FILLERS), key=len, reverse=True)))
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
MAX_CHARS = 40  # a longer question is about something


def is_whats_new(question: str) -> bool:
    """Whether the question asks for the news of a time rather than for a fact."""
    text = _PUNCT.sub("", clean_text(question))  # Traditional script read as Simplified (新聞 -> 新闻)
    if not text or len(text) > MAX_CHARS or not _NEWS.search(text):
        return False
    text = parse_time_query(text).text.replace(" ", "")
    return not _NOISE.sub("", _NEWS.sub("", text))


def asked_window(question: str, now: datetime) -> tuple[date, date] | None:
    """The China dates the question asks about (今天, 昨天, 本周, 最近三天…), None for just 'the newest'."""
    tq = parse_time_query(question, now)
    return tq.window or tq.event


@dataclass(frozen=True)
class WhatsNew:
    """Headlines for a 'what's new' question: those of the window asked, or the newest there are."""

    items: list[DigestItem]
    window: tuple[date, date] | None  # the dates asked for; None: the newest
    fallback: bool = False  # nothing in the window: these are the newest available instead
    today: date | None = None


POOL = 500  # newest headlines looked through first for a window; more while the window lies further back


def in_window(retriever: NewsReader, window: tuple[date, date], n: int) -> list[Headline]:
    """The newest ``n`` distinct headlines published within the window (China dates), newest first."""
    first, last = window
    pool = POOL
    while True:
        heads = retriever.latest(pool)
        out: list[Headline] = []
        seen: set[str] = set()
        for h in heads:
            t = headline_time(h)
            if t is None or h.title in seen or not first <= t.astimezone(CHINA_TZ).date() <= last:
                continue
            seen.add(h.title)
            out.append(h)
            if len(out) >= n:
                return out
        # Newest first: once a dated headline is older than the window, no later one is in it.
        dated = [t for h in heads if (t := headline_time(h)) is not None]
        if len(heads) < pool or (dated and min(dated).astimezone(CHINA_TZ).date() < first):
            return out
        pool *= 4


def answer(retriever: NewsReader, question: str, now: datetime, n: int, hours: float = 24) -> WhatsNew:
    """Collect up to ``n`` headlines with their extracts for the question (blocking: reads the index)."""
    window = asked_window(question, now)
    today = china_today(now)
    if window is not None:
        heads = in_window(retriever, window, n)
        if heads:
            return WhatsNew([DigestItem(h, extract(retriever, h)) for h in heads], window, today=today)
    newest = build_digest(retriever, hours, n)
    return WhatsNew(newest.items, window, fallback=window is not None, today=today)
