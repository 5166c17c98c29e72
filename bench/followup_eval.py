"""Follow-up questions with and without the conversation's context, on CMRC 2018 dev + trial (seeded).

Usage:
    python bench/followup_eval.py [--half dev|held-out|both] [--pairs N] [--plain N] [--work var/followup-eval]

The index: the CMRC dev and trial paragraphs with the real model, built once under --work (vectors
seeded read-only from the evaluation cache of bench/answerability.py, when there is one).

Follow-up pairs: two questions about one paragraph; the second is made elliptical by replacing the
longest stretch it shares with the first (2+ characters, not a question word) by a pronoun (它, 这个)
or by dropping it, by a seeded coin. Per pair, the answering passage (one holding a CMRC answer of
the second question) among the quoted (the first page: 3 of the hits) when the second question is asked
- in full, alone (the rate a follow-up is measured against);
- elliptical, alone (no context);
- elliptical after the first question was answered, read as the bot reads it (bot.analysis.followup:
  the topic words before merged into the query, the previous answer's articles preferred).
Plain questions: a full question asked alone, and asked right after an unrelated question (another
paragraph's) was answered: the context must not drag it off.
The pairs (and plain questions) are split even/odd: the even half chose the rules and the bonus, the
odd half is reported.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.retrieval_eval import load_squad, write_corpus  # noqa: E402
from bot.analysis import followup  # noqa: E402
from bot.config import BotConfig  # noqa: E402
from index import Retriever, build_index, load_config  # noqa: E402
from index.ingest.clean import clean_text  # noqa: E402
from index.store.lexical import QUESTION_WORDS  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cmrc2018"
SPLITS = (("cmrc2018_dev.json", "cmrc"), ("cmrc2018_trial.json", "cmrctrial"))
CACHE = Path("/work/main/var/eval/work/index/cmrc/embeddings")  # bench/answerability.py's, read only
PRONOUNS = ("它", "这个")
SHOWN = 3  # passages on an answer's first page


@dataclass(frozen=True)
class Asked:
    """A CMRC question with its paragraph id and answer texts."""

    text: str
    gold: str
    answers: tuple[str, ...]


def load(data: Path) -> tuple[list[dict], dict[str, list[Asked]]]:
    """Articles of dev + trial and, per paragraph, its questions in file order."""
    articles, by_para = [], {}
    for name, prefix in SPLITS:
        arts, _ = load_squad(data / name, prefix=prefix, source="cmrc")
        articles += arts
        ids = {a["body"]: a["id"] for a in arts}
        for doc in json.loads((data / name).read_text(encoding="utf-8"))["data"]:
            for para in doc["paragraphs"]:
                pid = ids[para["context"].strip()]
                for qa in para["qas"]:
                    answers = tuple(dict.fromkeys(a["text"].strip() for a in qa["answers"] if a["text"].strip()))
                    by_para.setdefault(pid, []).append(Asked(qa["question"].strip(), pid, answers))
    return articles, by_para


def shared_stretch(first: str, second: str) -> str | None:
    """The longest stretch of `second` (2+ characters) also in `first`, not a question word or punctuation."""
    best = None
    for i in range(len(second)):
        for j in range(len(second), i + 1, -1):
            piece = second[i:j]
            if best is not None and len(piece) <= len(best):
                break
            if piece in first and all(ch.isalnum() for ch in piece) and piece not in QUESTION_WORDS:
                best = piece
                break
    return best


def elliptical(question: str, entity: str, rng: random.Random) -> str:
    """The question with its shared entity replaced by a pronoun or dropped (a seeded coin)."""
    form = rng.choice((*PRONOUNS, ""))
    return question.replace(entity, form, 1)


def make_pairs(by_para: dict[str, list[Asked]], rng: random.Random, n: int) -> list[tuple[Asked, Asked, str]]:
    """Up to n (first, second, elliptical second) pairs, one per paragraph, seeded."""
    pairs = []
    paras = sorted(by_para)
    rng.shuffle(paras)
    for pid in paras:
        qs = [q for q in by_para[pid] if q.answers]
        options = [(a, b) for a in qs for b in qs if a is not b]
        rng.shuffle(options)
        for a, b in options:
            entity = shared_stretch(a.text, b.text)
            if entity and len(entity) >= 2:
                short = elliptical(b.text, entity, rng)
                if short != b.text and followup._text(short):
                    pairs.append((a, b, short))
                    break
        if len(pairs) >= n:
            break
    return pairs


def make_plain(by_para: dict[str, list[Asked]], rng: random.Random, n: int) -> list[tuple[Asked, Asked]]:
    """n (unrelated question before, plain question) pairs from different paragraphs, seeded."""
    flat = [q for pid in sorted(by_para) for q in by_para[pid] if q.answers]
    out = []
    while len(out) < n:
        before, asked = rng.sample(flat, 2)
        if before.gold != asked.gold:
            out.append((before, asked))
    return out


class Asker:
    """Questions asked as the bot asks them, with a conversation turn or without."""

    def __init__(self, retriever: Retriever, k: int):
        self.retriever, self.k = retriever, k
        self._cache: dict[tuple, tuple] = {}

    def result(self, query: str, prefer: tuple[str, ...] = ()):
        key = (query, prefer)
        if key not in self._cache:
            self._cache[key] = self.retriever.search(query, self.k, prefer_articles=prefer)
        return self._cache[key]

    def search(self, query: str, prefer: tuple[str, ...] = ()):
        return tuple(self.result(query, prefer).hits)

    def turn(self, question: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(topic words, quoted articles) the conversation keeps after `question` was answered."""
        hits = self.search(question)
        articles = tuple(dict.fromkeys(h.passage.article_id for h in hits if h.passage.article_id))
        return followup.topic_after(question), articles

    def after(self, before: str, question: str) -> tuple[tuple, bool]:
        """The hits of `question` asked right after `before`, and whether it was read as a follow-up."""
        topic, articles = self.turn(before)
        if followup.classify(question) is followup.Kind.NEW:
            return self.search(question), False
        alone = self.result(question)  # as the bot does: searched alone too, the surer answer wins
        merged = self.result(followup.merged_query(question, topic), articles)
        if followup.merged_wins(best(alone), best(merged)):
            return tuple(merged.hits), True
        return tuple(alone.hits), True


def best(result) -> float:
    """The probability of a result's best passage (0 when nothing was found)."""
    return max((h.score for h in result.hits), default=0.0)


def answered(hits, asked: Asked) -> bool:
    """Whether a quoted passage (the first page) holds one of the question's answers."""
    texts = [clean_text(h.passage.text) for h in hits[:SHOWN]]
    return any(clean_text(a) in t for a in asked.answers for t in texts)


def rate(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):.3f}" if flags else "-"


def build(work: Path, articles: list[dict], cfg, encoder) -> Path:
    """The dev + trial index under work/index, vectors seeded from the evaluation cache (read only)."""
    folder = work / "index"
    manifest = folder / "current" / "manifest.json"
    if manifest.is_file():
        counts = json.loads(manifest.read_text(encoding="utf-8")).get("counts", {})
        if counts.get("vectors") == counts.get("passages"):
            return folder
    for cache in sorted(CACHE.glob("*.sqlite")) if CACHE.is_dir() else []:
        target = folder / "embeddings" / cache.name
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        src.backup(dst)  # a copy: the evaluation cache is only read
        src.close()
        dst.close()
    corpus = write_corpus(articles, work / "corpus")
    t0 = time.perf_counter()
    build_index([corpus], folder, encoder, cfg.index, progress=False)
    print(f"built the index in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "followup-eval")
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--plain", type=int, default=300)
    parser.add_argument("--half", choices=("dev", "held-out", "both"), default="held-out")
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()

    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    articles, by_para = load(args.data)
    rng = random.Random(args.seed)
    pairs = make_pairs(by_para, rng, args.pairs)
    plain = make_plain(by_para, rng, args.plain)
    encoder = encoder_for(cfg.index)
    retriever = Retriever.load(build(args.work, articles, cfg, encoder), encoder, cfg.retrieval)
    asker = Asker(retriever, BotConfig().max_passages)  # as many hits as the bot asks for (the 更多 pages)
    halves = {"dev": (0,), "held-out": (1,), "both": (0, 1)}[args.half]
    t0 = time.perf_counter()
    full, alone, merged, read_as = [], [], [], []
    for i, (first, second, short) in enumerate(pairs):
        if i % 2 not in halves:
            continue
        full.append(answered(asker.search(second.text), second))
        alone.append(answered(asker.search(short), second))
        hits, was = asker.after(first.text, short)
        merged.append(answered(hits, second))
        read_as.append(was)
    plain_alone, plain_after, dragged = [], [], []
    for i, (before, asked) in enumerate(plain):
        if i % 2 not in halves:
            continue
        plain_alone.append(answered(asker.search(asked.text), asked))
        hits, was = asker.after(before.text, asked.text)
        plain_after.append(answered(hits, asked))
        dragged.append(was)
    seconds = time.perf_counter() - t0
    n = len(full)
    print(f"half: {args.half}; {n} follow-up pairs, {len(plain_alone)} plain questions; seed {args.seed}; "
          f"{seconds:.0f} s")
    print("| questions | asked | answering passage quoted (top 3) |")
    print("| --- | --- | --- |")
    print(f"| follow-ups (n={n}) | full form, alone | {rate(full)} |")
    print(f"| | elliptical, alone | {rate(alone)} |")
    print(f"| | elliptical, after the first question | {rate(merged)} "
          f"({sum(merged) / max(sum(full), 1):.2f} of full form; {rate(read_as)} read as follow-ups) |")
    print(f"| plain (n={len(plain_alone)}) | alone | {rate(plain_alone)} |")
    print(f"| | after an unrelated question | {rate(plain_after)} ({rate(dragged)} read as follow-ups) |")
    retriever.close()


if __name__ == "__main__":
    main()
