"""What a build did: counts, skipped input, timing; the closing report."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from index.ingest.seeds import Skipped

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the closing report."""

    files: int = 0
    files_reused: int = 0
    articles: int = 0
    duplicates: int = 0
    removed: int = 0
    passages: int = 0
    paragraphs: int = 0
    headlines: int = 0
    vectors: int = 0
    embedded: int = 0
    rows_written: int = 0  # passage rows this build wrote into SQLite (an `add` writes only its own)
    vectors_added: int = 0  # vectors this build added to the FAISS index from the cache
    skipped: list[Skipped] = field(default_factory=list)
    unused: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    version: str = ""
    unchanged: bool = False

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("skipped", "unused")}
        d["skipped"] = [str(s) for s in self.skipped]
        d["unused"] = dict(self.unused)
        return d

    def summary(self) -> str:
        """The human-readable closing report."""
        lines = [
            f"index version {self.version}" + (" (unchanged)" if self.unchanged else ""),
            f"files        {self.files} ({self.files_reused} unchanged, reused)",
            f"articles     {self.articles} ({self.duplicates} duplicates stored once, {self.removed} removed)",
            f"passages     {self.passages} ({self.paragraphs} paragraphs, {self.headlines} headlines)",
            f"vectors      {self.vectors} of {self.passages} ({self.embedded} embedded now)",
            f"skipped      {len(self.skipped)}",
        ]
        lines += [f"  - {s}" for s in self.skipped]
        if self.unused:
            lines.append("read, not stored: " + ", ".join(f"{k} {v}" for k, v in sorted(self.unused.items())))
        lines.append(f"seconds      {self.seconds:.1f}")
        return "\n".join(lines)
