"""Extractive summaries of group discussions and articles (pure functions, no Telegram).

Keywords come from jieba's TF-IDF table; representative messages are picked by MMR over
word + character-bigram TF-IDF vectors, with a hard near-duplicate cut.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import jieba

with warnings.catch_warnings():
    # jieba 0.42.1 reads its IDF table without closing the file; don't let that ResourceWarning
    # fail test runs that turn warnings into errors.
    warnings.simplefilter("ignore", ResourceWarning)
    import jieba.analyse

from bot.chatlog import ChatMessage

logger = logging.getLogger(__name__)

__all__ = [
    "CHINA_TZ",
    "ChatMessage",
    "Summary",
    "Window",
    "USAGE",
    "summarize",
    "keywords",
    "select_messages",
    "split_sentences",
    "representative_sentence",
    "parse_window",
    "message_link",
    "bigram_jaccard",
]

# China has had no daylight saving since 1991, so a fixed offset needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

USAGE = "用法：/summary [条数 | 时长 | today]，例如 /summary 500、/summary 2h、/summary 30m、/summary 3d、/summary today"

DUPLICATE_JACCARD = 0.6

# Chat filler and function words that TF-IDF still ranks high in short messages.
_STOPWORDS = frozenset(
    """
    一个 一下 一些 一样 一直 一起 一点 不会 不是 不要 不过 也是 了吧 了吗 什么 今天 他们 以后 以前 会不会
    但是 你们 你的 只是 可以 可能 后来 因为 因此 她们 如果 如何 始终 就是 就会 已经 应该 开始 怎么
    怎样 总是 我们 我的 所以 所有 才是 是不是 是的 是啊 有点 有没有 来说 没事 没有 然后 特别 现在 真是 真的
    知道 确实 第一 而且 而已 自己 虽然 要是 觉得 认为 还是 还有 这个 这么 这些 这样 这里 那个 那么 那些 那样
    那里 那就 问题 其实 感觉 好像 好的 对啊 对的 嗯嗯 哈哈 哈哈哈 哈哈哈哈 呵呵 嘿嘿 嘻嘻 啊啊 啦啦 哦哦 谢谢
    时候 东西 事情 样子 地方 出来 起来 过来 回来 下来 上来 不行 不错 好吧 好啊 好了 行吧 是吗 吗吗 多少 怎么样
    大家 别人 人家 咱们 为什么 为啥 干嘛 的话 之后 之前 每次 有些 还在 还没 太多 太好 那种 这种 哪里 哪个 谁的
    小时 分钟 一天 一次 不能 不了 了解 需要 希望 告诉 看看 试试 下次 今年 明天 昨天 刚才 刚刚 马上 突然 估计
    我要 你要 还好 肯定 一定 不用 没什么 好多 那边 这边 有人 有的 觉得 反正 不然 居然 竟然 而是 只有 最近
    """.split()
)
# Single characters too common to make two messages similar.
_STOPCHARS = frozenset("的了是我你他她它们在有和就不也都而及与着或一个这那么吧吗呢啊呀哦嗯哈啦嘛么之被把给让向从对")

_URL = re.compile(r"https?://\S+|www\.\S+|t\.me/\S+", re.I)
_MENTION = re.compile(r"@\w+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CONTENT = re.compile(r"[\w]", re.UNICODE)
_KEYWORD_SHAPE = re.compile(r"^(?=.*[^\W\d_])\w+$")  # word characters only, not only digits
# A sentence: text up to a run of terminators, plus any closing quotes after them.
# News datelines such as "央视网消息（新闻联播）：" or "新华社北京1月1日电 " say nothing about the story.
_DATELINE = re.compile(r"^[^。！？：:\n]{0,30}?(?:消息|电)(?:（[^）]{0,20}）)?[：:\s]+|^（[^）]{0,30}）\s*")
_SENTENCE = re.compile(r"[^。！？!?；;…\n]+(?:[。！？!?；;…]+[”’」』）)\"']*)?")

_WINDOW_RE = re.compile(r"^(\d+)\s*(h|hr|hrs|hour|hours|小时|个小时|m|min|mins|minute|minutes|分钟|分|d|day|days|天)?$", re.I)
_UNIT_SECONDS = {
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours", "小时", "个小时"], 3600),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes", "分钟", "分"], 60),
    **dict.fromkeys(["d", "day", "days", "天"], 86400),
}
_UNIT_LABEL = {3600: "小时", 60: "分钟", 86400: "天"}


# -- data types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Which messages /summary reads: the last `count`, those since `since`, or the default."""

    count: int | None = None
    since: datetime | None = None
    label: str = "上次总结以来"

    @property
    def is_default(self) -> bool:
        return self.count is None and self.since is None


@dataclass(frozen=True)
class Summary:
    """An extractive summary of a window of chat messages."""

    keywords: list[str]
    picks: list[ChatMessage]  # chronological
    participants: int
    messages_read: int
    related: list = field(default_factory=list)
    first_time: datetime | None = None
    last_time: datetime | None = None
    too_few: bool = False
    min_messages: int = 0


# -- text helpers ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Drop links and @mentions, which say nothing about the topic."""
    return _MENTION.sub(" ", _URL.sub(" ", text))


def _content(text: str) -> str:
    """Return the letters and digits of `text`, lower-cased, without spaces, punctuation or emoji."""
    return "".join(_CONTENT.findall(_clean(text))).lower().replace("_", "")


def _bigrams(text: str) -> set[str]:
    c = _content(text)
    if len(c) < 2:
        return {c} if c else set()
    return {c[i : i + 2] for i in range(len(c) - 1)}


def bigram_jaccard(a: str, b: str) -> float:
    """Return the Jaccard similarity of the character-bigram sets of two texts."""
    return _jaccard(_bigrams(a), _bigrams(b))


def _words(text: str) -> list[str]:
    """Return jieba tokens that can carry meaning (no stopwords, punctuation or emoji)."""
    out = []
    for w in jieba.lcut(_clean(text)):
        w = w.strip()
        if not w or not _CONTENT.search(w):
            continue
        lw = w.lower()
        if lw in _STOPWORDS or lw in jieba.analyse.default_tfidf.stop_words:
            continue
        if len(w) == 1 and (not _CJK.match(w) or w in _STOPCHARS):
            continue
        out.append(lw)
    return out


def _idf(word: str) -> float:
    t = jieba.analyse.default_tfidf
    return t.idf_freq.get(word, t.median_idf)


def _vectors(texts: Sequence[str], bigram_weight: float = 0.5) -> list[dict[str, float]]:
    """Return L2-normalized TF-IDF vectors over jieba words and character bigrams."""
    words = [_words(t) for t in texts]
    grams = [[g for g in _bigrams(t) if not (set(g) <= _STOPCHARS)] for t in texts]
    n = len(texts)
    # Bigram idf comes from the window itself: jieba has no table for them.
    df = Counter(g for gs in grams for g in set(gs))
    vecs = []
    for ws, gs in zip(words, grams):
        v: dict[str, float] = {}
        for w, c in Counter(ws).items():
            v["w:" + w] = c * _idf(w)
        for g in gs:
            v["g:" + g] = bigram_weight * (math.log((n + 1) / (df[g] + 1)) + 1)
        norm = math.sqrt(sum(x * x for x in v.values()))
        vecs.append({k: x / norm for k, x in v.items()} if norm else {})
    return vecs


def _cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(k, 0.0) for k, x in a.items())


def _threads(messages: Sequence[ChatMessage]) -> list[int]:
    """Return a reply-thread id per message (union of reply_to links inside the window)."""
    index = {m.message_id: i for i, m in enumerate(messages)}
    parent = list(range(len(messages)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, m in enumerate(messages):
        j = index.get(m.reply_to) if m.reply_to is not None else None
        if j is not None:
            parent[find(i)] = find(j)
    return [find(i) for i in range(len(messages))]


# -- keywords --------------------------------------------------------------------------------


def keywords(texts: Sequence[str], k: int = 8) -> list[str]:
    """Return up to `k` topic keywords of the texts, ranked by jieba TF-IDF times spread.

    A keyword is a jieba token found verbatim in some text; tokens unknown to jieba's
    dictionary (often mis-segmentations) must occur in at least two texts.
    """
    tf: Counter[str] = Counter()
    df: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text in texts:
        ws = [w for w in _words(text) if len(w) >= 2 and _KEYWORD_SHAPE.match(w)]
        tf.update(ws)
        df.update(set(ws))
        low = text.lower()
        for w in ws:
            if w not in surface:
                # Keep the spelling used in the chat ("iPhone", not "iphone").
                pos = low.find(w)
                surface[w] = text[pos : pos + len(w)] if pos >= 0 else w
    known = jieba.dt.FREQ
    scored = []
    for w, c in tf.items():
        if df[w] < 2 and not known.get(w):
            continue
        # Spread across messages matters more than one message repeating a word.
        scored.append((c * _idf(w) * (1 + math.log(df[w])), w))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [surface[w] for _, w in scored[:k]]


# -- message selection -----------------------------------------------------------------------


def _is_candidate(m: ChatMessage, min_chars: int) -> bool:
    text = m.text.strip()
    return not text.startswith("/") and len(_content(text)) >= min_chars


def select_messages(
    messages: Sequence[ChatMessage],
    n: int = 5,
    *,
    diversity: float = 0.5,
    min_chars: int = 4,
    thread_similarity: float = 0.5,
    duplicate_jaccard: float = DUPLICATE_JACCARD,
) -> list[ChatMessage]:
    """Pick up to `n` representative, mutually non-duplicate messages (MMR), in chat order.

    Relevance is cosine similarity to the window's centroid, damped for very short messages;
    redundancy is the highest similarity to an already picked message, where two messages of
    the same reply thread count as at least `thread_similarity` alike.
    """
    if n <= 0 or not messages:
        return []
    texts = [m.text for m in messages]
    vecs = _vectors(texts)
    threads = _threads(messages)
    centroid: Counter[str] = Counter()
    for v in vecs:
        centroid.update(v)
    cnorm = math.sqrt(sum(x * x for x in centroid.values())) or 1.0
    lengths = [len(_content(t)) for t in texts]
    relevance = [
        _cos(v, centroid) / cnorm * min(1.0, math.sqrt(length / 20)) for v, length in zip(vecs, lengths)
    ]

    candidates = [i for i, m in enumerate(messages) if _is_candidate(m, min_chars)]
    if len(candidates) < n:
        candidates = [i for i, m in enumerate(messages) if _is_candidate(m, 1)]
    grams = {i: _bigrams(texts[i]) for i in candidates}

    picked: list[int] = []
    while len(picked) < n and candidates:
        best, best_score = None, -math.inf
        for i in candidates:
            redundancy = 0.0
            for j in picked:
                s = _cos(vecs[i], vecs[j])
                if threads[i] == threads[j]:
                    s = max(s, thread_similarity)
                redundancy = max(redundancy, s)
            score = (1 - diversity) * relevance[i] - diversity * redundancy
            if score > best_score:
                best, best_score = i, score
        assert best is not None
        picked.append(best)
        # The near-duplicate cut is absolute: drop every candidate too close to the new pick.
        candidates = [
            i
            for i in candidates
            if i != best and _jaccard(grams[i], grams[best]) < duplicate_jaccard
        ]
    return [messages[i] for i in sorted(picked)]


def _jaccard(x: set[str], y: set[str]) -> float:
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def summarize(
    messages: Sequence[ChatMessage],
    n: int = 5,
    *,
    min_messages: int = 10,
    n_keywords: int = 8,
    related: Callable[[str], list] | None = None,
    max_related: int = 3,
    diversity: float = 0.5,
    duplicate_jaccard: float = DUPLICATE_JACCARD,
) -> Summary:
    """Summarize a window of chat messages: keywords, `n` quoted messages, counts, related news.

    Fewer than `min_messages` messages give a Summary with `too_few=True` and nothing picked.
    `related(text)` (optional) returns news items for the discussion; errors there are logged
    and ignored so a broken index never breaks /summary.
    """
    msgs = [m for m in messages if m.text and m.text.strip()]
    participants = len({m.user_id for m in msgs})
    first = min((m.time for m in msgs), default=None)
    last = max((m.time for m in msgs), default=None)
    if len(msgs) < min_messages:
        return Summary([], [], participants, len(msgs), [], first, last, True, min_messages)

    picks = select_messages(msgs, n, diversity=diversity, duplicate_jaccard=duplicate_jaccard)
    kws = keywords([_clean(m.text) for m in msgs], n_keywords)
    items: list = []
    if related is not None and max_related > 0:
        query = " ".join(kws) + "\n" + "\n".join(_clean(m.text) for m in picks)
        try:
            items = _dedupe_related(related(query))[:max_related]
        except Exception:
            logger.warning("related() failed; summary goes out without news", exc_info=True)
    return Summary(kws, picks, participants, len(msgs), items, first, last, False, min_messages)


def _dedupe_related(items: list) -> list:
    seen, out = set(), []
    for item in items or []:
        key = item if isinstance(item, str) else getattr(getattr(item, "passage", item), "title", None) or str(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# -- digest ----------------------------------------------------------------------------------


def split_sentences(paragraphs: Sequence[str]) -> list[str]:
    """Split paragraphs into sentences at 。！？；… and line breaks."""
    out = []
    for p in paragraphs:
        out.extend(s.strip() for s in _SENTENCE.findall(p) if s.strip())
    return out


def representative_sentence(paragraphs: list[str], title: str | None = None, min_chars: int = 10) -> str:
    """Return the article sentence most central to it (LexRank-style degree, plus title overlap).

    Centrality is the mean cosine similarity to the other sentences; a title, when given, adds
    half the sentence's similarity to it. Ties go to the earlier sentence. A leading news
    dateline ("新华社北京1月1日电") is cut from the returned sentence.
    """
    sentences = split_sentences(paragraphs)
    if not sentences:
        return ""
    # Datelines and captions are short; score only real sentences when there are any.
    pool = [s for s in sentences if len(_content(s)) >= min_chars] or sentences
    if len(pool) == 1:
        return _strip_dateline(pool[0])
    texts = pool + ([title] if title else [])
    vecs = _vectors(texts)
    sent_vecs, title_vec = vecs[: len(pool)], (vecs[-1] if title else None)
    best, best_score = 0, -math.inf
    for i, v in enumerate(sent_vecs):
        score = sum(_cos(v, w) for j, w in enumerate(sent_vecs) if j != i) / (len(pool) - 1)
        if title_vec is not None:
            score += 0.5 * _cos(v, title_vec)
        if score > best_score + 1e-12:
            best, best_score = i, score
    return _strip_dateline(pool[best])


def _strip_dateline(sentence: str) -> str:
    stripped = _DATELINE.sub("", sentence, count=1).strip()
    return stripped if len(_content(stripped)) >= 4 else sentence


# -- /summary arguments and links ------------------------------------------------------------


def _echo(arg: str, limit: int = 30) -> str:
    """Quote a user's argument back briefly: printable characters only, at most ``limit``."""
    text = "".join(ch for ch in arg.strip() if ch.isprintable())
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def parse_window(arg: str, now: datetime, max_count: int = 2000, max_days: int = 365) -> Window:
    """Parse a /summary argument: "", "500", "2h", "30m", "3d", "today" (also 2小时, 今天).

    `now` should be timezone-aware (naive means UTC). Raises ValueError carrying USAGE.
    """
    s = (arg or "").strip().lower()
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if not s:
        return Window()
    if s in {"today", "今天", "今日"}:
        midnight = now.astimezone(CHINA_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(since=midnight.astimezone(timezone.utc), label="今天（北京时间）")
    m = _WINDOW_RE.match(s)
    if not m:
        raise ValueError(f"看不懂 {_echo(arg)}。{USAGE}")
    digits, unit = m.group(1), m.group(2)
    # int() raises its own English ValueError past 4,300 digits; anything this long is too big anyway.
    value = int(digits) if len(digits) <= 12 else max_count + max_days * 86400 + 1
    if value <= 0:
        raise ValueError(f"数字要大于 0。{USAGE}")
    if unit is None:
        if value > max_count:
            raise ValueError(f"最多总结 {max_count} 条消息。{USAGE}")
        return Window(count=value, label=f"最近 {value} 条消息")
    seconds = _UNIT_SECONDS[unit]
    if value * seconds > max_days * 86400:
        raise ValueError(f"时间窗口最长 {max_days} 天。{USAGE}")
    return Window(
        since=(now - timedelta(seconds=value * seconds)).astimezone(timezone.utc),
        label=f"最近 {value} {_UNIT_LABEL[seconds]}",
    )


def message_link(chat_id: int, message_id: int, username: str | None = None) -> str | None:
    """Return a t.me link to a group message, or None where Telegram has none (basic groups)."""
    if username:
        return f"https://t.me/{username.lstrip('@')}/{message_id}"
    s = str(chat_id)
    if s.startswith("-100") and len(s) > 4:
        return f"https://t.me/c/{s[4:]}/{message_id}"
    return None
