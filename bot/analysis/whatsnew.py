"""'What's new' questions (今天有什么新闻, 最近有啥新消息): told apart by rules, answered with headlines.

A question asks for news rather than a fact when it names news (新闻, 消息, 头条…) or asks what
happened (发生了什么), and nothing is left once its time words (``index.search.timeq``), news words, question
words and fillers are taken out (``is_whats_new``). When a few words are left and the question ends
on a news noun ("最近疫情有什么新消息", "武汉的新闻", "有什么关于口罩的最新消息"), it asks for the news
about those words: ``topic_of`` gives them ("疫情", "武汉", "口罩"), and the answer is the newest
headlines of articles about them. ``is_whats_new`` and ``topic_of`` are pure; ``answer`` reads the
retriever (call it off the loop); ``bot.digest_format`` formats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from index.chinatime import CHINA_TZ, china_today
from index.ingest.clean import clean_text
from index.schema import Headline
from index.search.timeq import parse_time_query
from index.store.lexical import tokenize

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
_NEWS_SPLIT = re.compile("(" + _NEWS.pattern + ")")
_LONG_FILLER = re.compile("|".join(sorted((re.escape(w) for w in _TIME_FILLERS + _FILLERS if len(w) > 1),
                                          key=len, reverse=True)))
_TIME_FILLER = re.compile("|".join(sorted(map(re.escape, _TIME_FILLERS), key=len, reverse=True)))
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
MAX_CHARS = 40  # a longer question is about something


def is_whats_new(question: str) -> bool:
    """Whether the question asks for the news of a time rather than for a fact."""
    text = _PUNCT.sub("", clean_text(question))  # Traditional script read as Simplified (新聞 -> 新闻)
    if not text or len(text) > MAX_CHARS or not _NEWS.search(text):
        return False
    text = parse_time_query(text).text.replace(" ", "")
    return not _NOISE.sub("", _NEWS.sub("", text))


# News nouns a topical question ends on ("湖北有什么新消息"); not 发生了什么 ("武汉发生了什么" asks
# about an event, which a quote may answer) nor 快讯/早报 (programme titles: "国内联播快讯").
TOPIC_NEWS_WORDS = ("新闻", "新消息", "消息", "头条", "要闻", "热点", "新鲜事", "资讯", "动态", "新情况", "大事", "时事")
# Words that only frame the topic ("关于口罩的", "湖北方面").
_TOPIC_FRAMES = ("关于", "有关", "相关", "方面", "一带", "那边", "这边", "地区的")
# A question word left in the topic makes it a question about a fact ("谁发布的消息").
# So does a negation ("没有新闻"): nothing to look for.
_ASKS_A_FACT = re.compile("谁|哪|为什么|为何|怎么|怎样|如何|多少|几|是否|吗|^没")
MIN_TOPIC_CHARS = 2  # one character is a quality, not a topic: 好消息, 坏消息, 他的消息
MAX_TOPIC_CHARS = 12  # more is a question about something, not a topic


def topic_of(question: str) -> str:
    """The topic of a topical "what's new" question ("最近疫情有什么新消息" -> "疫情"); "" for any other.

    The question must name news and end on a news noun (``TOPIC_NEWS_WORDS``, then only fillers
    such as 是什么/吗); its time words, news words, question words and fillers are taken out, the
    one-character fillers only as whole jieba words, so a topic word holding one stays whole ("新冠",
    "军事"). A bare "what's new" question has no topic (``is_whats_new``).
    """
    text = _PUNCT.sub("", clean_text(question))
    if not text or len(text) > MAX_CHARS or not _NEWS.search(text) or is_whats_new(text):
        return ""
    text = _TIME_FILLER.sub("", parse_time_query(text).text.replace(" ", ""))  # 这几天: not 这 + 几天
    # Split at the news words: 新闻 of "新闻发布会" is followed by a topic word, 新闻 of "武汉的新闻" is last.
    pieces = _NEWS_SPLIT.split(text)
    kept: list[str] = []
    ends_on_news = False
    for i, piece in enumerate(pieces):
        if i % 2:  # a news word
            ends_on_news = piece in TOPIC_NEWS_WORDS
            continue
        # Fillers of two or more characters go from the text (jieba would split 给我, 说说); one-character
        # ones only as whole words, so that a topic word holding one stays whole (新冠, 军事).
        words = [w for w in tokenize(_LONG_FILLER.sub(" ", piece))
                 if _NOISE.sub("", w) and w not in _TOPIC_FRAMES]
        if words:
            kept.extend(words)
            ends_on_news = False
    topic = "".join(kept)
    if not ends_on_news or not MIN_TOPIC_CHARS <= len(topic) <= MAX_TOPIC_CHARS or _ASKS_A_FACT.search(topic):
        return ""
    return topic


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
    topic: str = ""  # the topic asked about ("疫情"); "" for all the news
    off_topic: bool = False  # nothing about the topic: these are the newest headlines overall


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


def about(retriever: NewsReader, topic: str, n: int, window: tuple[date, date] | None) -> list[Headline]:
    """The newest headlines about a topic (``Retriever.newest_about``: by the search's verdict).

    A reader without it (or finding nothing) falls back to the headlines whose title or tag holds
    the topic (``latest(keyword=...)``), kept to the window.
    """
    newest_about = getattr(retriever, "newest_about", None)
    heads = newest_about(topic, n, window) if newest_about is not None else []
    if heads:
        return heads
    heads = retriever.latest(POOL, keyword=topic)
    if window is not None:
        first, last = window
        heads = [h for h in heads if (t := headline_time(h)) is not None
                 and first <= t.astimezone(CHINA_TZ).date() <= last]
    return heads[:n]


def answer(retriever: NewsReader, question: str, now: datetime, n: int, hours: float = 24) -> WhatsNew:
    """Collect up to ``n`` headlines with their extracts for the question (blocking: reads the index).

    A topical question (``topic_of``) gets the newest headlines about its topic, of its window when
    it names one; with none in the window, the newest about it; with none at all, the newest overall
    (``off_topic``).
    """
    window = asked_window(question, now)
    today = china_today(now)
    topic = topic_of(question)
    if topic:
        for span in (window, None) if window is not None else (None,):
            heads = about(retriever, topic, n, span)
            if heads:
                return WhatsNew([DigestItem(h, extract(retriever, h)) for h in heads], window,
                                fallback=span != window, today=today, topic=topic)
        newest = build_digest(retriever, hours, n)
        return WhatsNew(newest.items, window, today=today, topic=topic, off_topic=True)
    if window is not None:
        heads = in_window(retriever, window, n)
        if heads:
            return WhatsNew([DigestItem(h, extract(retriever, h)) for h in heads], window, today=today)
    newest = build_digest(retriever, hours, n)
    return WhatsNew(newest.items, window, fallback=window is not None, today=today)
