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


def to_simplified(text: str) -> str:
    """Convert Traditional to Simplified Chinese with OpenCC."""
    return _t2s().convert(_SURROGATE.sub("\ufffd", text)) if text else text


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
