"""Text helpers for group summaries: cleaning, content characters, bigrams, jieba words and IDF."""

from __future__ import annotations

import functools
import re
import warnings

from index.store.lexical import cut

__all__ = ["STOPWORDS", "STOPCHARS", "clean", "content", "bigrams", "words", "idf"]

# Chat filler and function words that TF-IDF still ranks high in short messages.
STOPWORDS = frozenset(
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
STOPCHARS = frozenset("的了是我你他她它们在有和就不也都而及与着或一个这那么吧吗呢啊呀哦嗯哈啦嘛么之被把给让向从对")

_URL = re.compile(r"https?://\S+|www\.\S+|t\.me/\S+", re.I)
_MENTION = re.compile(r"@\w+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CONTENT = re.compile(r"[\w]", re.UNICODE)


def clean(text: str) -> str:
    """Drop links and @mentions, which say nothing about the topic."""
    return _MENTION.sub(" ", _URL.sub(" ", text))


def content(text: str) -> str:
    """Return the letters and digits of `text`, lower-cased, without spaces, punctuation or emoji."""
    return "".join(_CONTENT.findall(clean(text))).lower().replace("_", "")


def bigrams(text: str) -> set[str]:
    """Return the set of character bigrams of the text's content characters."""
    c = content(text)
    if len(c) < 2:
        return {c} if c else set()
    return {c[i : i + 2] for i in range(len(c) - 1)}


@functools.cache
def _tfidf():
    """jieba's default TF-IDF table (IDF and stop words), imported on first use: jieba.analyse loads the
    table and jieba.posseg, ~0.6 s that a bot which never summarizes need not spend at start-up."""
    with warnings.catch_warnings():
        # jieba 0.42.1 reads its IDF table without closing the file; don't let that ResourceWarning
        # fail test runs that turn warnings into errors.
        warnings.simplefilter("ignore", ResourceWarning)
        import jieba.analyse
    return jieba.analyse.default_tfidf


def words(text: str, hmm: bool = True) -> list[str]:
    """Return jieba tokens that can carry meaning (no stopwords, punctuation or emoji).

    hmm=False skips jieba's guessing of unknown words (~25 % faster; for huge windows).
    """
    out = []
    stop = _tfidf().stop_words
    for w in cut(clean(text), hmm):
        w = w.strip()
        if not w or not _CONTENT.search(w):
            continue
        lw = w.lower()
        if lw in STOPWORDS or lw in stop:
            continue
        if len(w) == 1 and (not _CJK.match(w) or w in STOPCHARS):
            continue
        out.append(lw)
    return out


def idf(word: str) -> float:
    """Return jieba's IDF of a word (the median IDF for unknown words)."""
    t = _tfidf()
    return t.idf_freq.get(word, t.median_idf)
