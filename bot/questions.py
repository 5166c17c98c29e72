"""What a user typed as a question: cleaned of invisible characters, and whether it can be searched.

Used by every way of asking (/ask, private text, group mentions, inline queries).
"""

from __future__ import annotations

import unicodedata

from index.search.query import is_askable  # one definition of "something to search for", the index's

__all__ = ["clean_question", "is_askable"]


def clean_question(text: str) -> str:
    """Drop control and invisible format characters (zero-width, bidi overrides), squeeze spaces."""
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    return " ".join(kept.split())
