"""Text cleaning: strip pinyin annotations, normalise script and width."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A converter left "(pinyin)" after every character it changed: 社區(qū), 發(fā)生. A syllable is an
# optional initial plus a final, with tone marks; checking the shape keeps real bracketed words
# such as "(COVID)" or "(2020)".
_TONED = str.maketrans(
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ",
    "aaaaeeeeiiiioooouuuuvvvvvnnnm",
)
_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|uai|uan|van|ian|iao|ai|ei|ao|ou|an|en|in|un|vn|ia|ie|iu|ua|uo|ue|ve|ui|er|a|o|e|i|u|v|ng|n|m)"
)
_ANNOTATION = re.compile(r"(?<=[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])[(（]([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ]{1,6})[)）]")


def _is_pinyin(word: str) -> bool:
    return _SYLLABLE.fullmatch(word.translate(_TONED)) is not None


def strip_pinyin(text: str) -> str:
    """Remove "(pinyin)" annotations that follow Chinese characters."""
    return _ANNOTATION.sub(lambda m: "" if _is_pinyin(m.group(1)) else m.group(0), text)


def count_pinyin(text: str) -> int:
    """Count pinyin annotations left in `text` (0 after cleaning)."""
    return sum(1 for m in _ANNOTATION.finditer(text) if _is_pinyin(m.group(1)))


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


# A lone surrogate (a JSON "\ud800" escape, a feed's "&#xD800;") is no character: OpenCC, SQLite and
# Telegram all need UTF-8, which cannot encode it. It becomes U+FFFD, as an HTML parser makes it.
_SURROGATE = re.compile("[\ud800-\udfff]")


# 著 is the Traditional form of the particle and verb 着 (隨著, 著力) and also a Simplified character of
# its own (著名, 显著, 原著, 土著). OpenCC's t2s keeps it either way, so "隨著" became "随著". These known
# words are 着 in Simplified text: after such a word's first part (随著, 接著, 意味著) unless 著 starts
# 著名/著作/著称… ("日本著名", "网站著作权"), or before such a second part (著力, 著手) unless 著
# ends 显著/原著/名著… ("显著力量"). (tw2s turns every 著 into 着 on Simplified input: 显着, 原着.)
_ZHE_BEFORE = "随 接 意味 沿 为 朝 向 本 顺 凭 靠 借 藉 跟 带 有 看 等 想 说 笑 走 站 坐 拿 听 写 活 过 忙 睡 穿 试"
_ZHE_AFTER = "力 手 陆 急 想 重 眼 落 迷 凉 火 魔 实 装 色 墨"
_ZHU_NEXT = "名作称述录者书"  # 著名, 著作, 著称, 著述, 著录, 著者, 著书
_ZHU_PREVIOUS = "显卓昭原名巨专论编译合遗拙撰土新大所"  # 显著, 卓著, 昭著, 原著, 名著, 巨著, 专著…
_ZHE = re.compile(
    f"({'|'.join(_ZHE_BEFORE.split())})著(?![{_ZHU_NEXT}])"
    f"|(?<![{_ZHU_PREVIOUS}])著(?=[{''.join(_ZHE_AFTER.split())}])"
)


def to_simplified(text: str) -> str:
    """Convert Traditional to Simplified Chinese with OpenCC (and 著 to 着 in the known words above)."""
    if not text:
        return text
    text = _t2s().convert(_SURROGATE.sub("\ufffd", text))
    return _ZHE.sub(lambda m: (m.group(1) or "") + "着", text) if "著" in text else text


def has_surrogate(text: str) -> bool:
    """Whether text holds a lone surrogate (which UTF-8 cannot encode)."""
    return _SURROGATE.search(text) is not None


_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")


def clean_text(text: str) -> str:
    """Clean text for storage and display: no pinyin, Simplified script, tidy spaces.

    Chinese punctuation is kept as written; only invisible characters and runs of spaces change.
    """
    text = _INVISIBLE.sub("", text)
    text = to_simplified(strip_pinyin(text))
    return _SPACES.sub(" ", text).strip()


_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def normalize_for_search(text: str) -> str:
    """Fold text for matching: markup dropped, NFKC (full-width to half-width), lower case, Simplified script."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    text = _TAG.sub(" ", text).lower()
    return to_simplified(strip_pinyin(text))
