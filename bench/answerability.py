"""Does the "not found" decision hold on a source it was never calibrated on? Leave one source out.

Usage:
    python bench/evalsets.py                  # once: the corpora and questions under var/eval
    python bench/answerability.py [--fit]     # builds the indexes (vectors cached), prints the tables

Sources. Answerable: CMRC 2018 dev, the same converted with OpenCC s2twp (Taiwan script and
vocabulary), cloze questions made from xwlb 2019/2021 and from dxy-news sentences; each is asked
against an index of its own corpus. Unanswerable: the same questions asked with their source hidden
(an index of the other corpora; CMRC and its Taiwan twin hide each other too), LCCC chatter lines and
hand-written off-topic questions (asked against every own index).

For each left-out source the model (index.search.answerability, one row per candidate passage, label: the
passage is from the gold article) is fitted on all the other sources, its lines chosen on them
(`lines()`), and only then applied to the left-out one. The "before" rows are the rule this project
used until now (0.25 × coverage + 0.75 × cosine ≥ 0.79, calibrated on CMRC alone), on the same data.
`--fit` fits on every source and prints the model for index/search/answer_model.json: those are
training figures, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index import Retriever, build_index, load_config  # noqa: E402
from index.search.answerability import FEATURES, fit_logistic  # noqa: E402

ANSWERABLE = ("cmrc", "cmrc-tw", "xwlb", "dxy")
FAMILY = {"cmrc": "cmrc", "cmrc-tw": "cmrc", "xwlb": "xwlb", "dxy": "dxy"}
HIDDEN_CORPORA = {"cmrc": ("xwlb", "dxy"), "xwlb": ("cmrc", "dxy"), "dxy": ("cmrc", "xwlb")}
UNANSWERABLE = ("lccc", "offtopic")
DEFAULT_FEATURES = ("cosine", "coverage", "bm25_ratio")
CANDIDATES = 27  # search() judges max(3k, 10) candidates; the bot asks for k = 9 (max_passages)
HIDDEN_SAMPLE = 1000  # questions of a big set asked against its hidden index
OLD_RULE = (0.75, 0.79)  # relevance = 0.25 coverage + 0.75 cosine >= 0.79 (the rule before this bench)


def read_jsonl(path: Path) -> list[dict]:
    """Lines of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build(name: str, corpora: list[str], eval_dir: Path, work: Path, encoder, cfg) -> Path:
    """An index of these corpora under work/index/<name> (vectors come from the shared cache)."""
    folder = work / "index" / name
    manifest = folder / "current" / "manifest.json"
    if manifest.is_file():
        counts = json.loads(manifest.read_text(encoding="utf-8")).get("counts", {})
        if counts.get("vectors") == counts.get("passages"):
            return folder  # built and fully embedded (a killed run left it lexical-only otherwise)
    share_vectors(work / "index", folder)
    t0 = time.perf_counter()
    build_index([eval_dir / "corpora" / f"{c}.jsonl" for c in corpora], folder, encoder, cfg.index, progress=False)
    print(f"built {name} ({'+'.join(corpora)}) in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def share_vectors(indexes: Path, folder: Path) -> None:
    """Seed a new index's vector cache with every vector the other evaluation indexes computed."""
    import sqlite3

    caches = sorted(p for p in indexes.glob("*/embeddings/*.sqlite") if folder not in p.parents)
    if not caches:
        return
    for name in {p.name for p in caches}:
        target = folder / "embeddings" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        for cache in (p for p in caches if p.name == name):
            db.execute("ATTACH DATABASE ? AS other", (str(cache),))
            db.execute("INSERT OR IGNORE INTO vectors SELECT hash, vec FROM other.vectors")
            db.execute("INSERT OR IGNORE INTO meta SELECT key, value FROM other.meta")
            db.commit()
            db.execute("DETACH DATABASE other")
        db.close()


def gold_rank(retriever: Retriever, judged, gold: set[str]) -> int:
    """The 1-based rank of the first gold article among the candidates' articles (0: none)."""
    articles: list[str] = []
    for c, _ in judged:
        aid = retriever.passages[c.row].article_id
        if aid and aid not in articles:
            articles.append(aid)
    return next((i + 1 for i, a in enumerate(articles) if a in gold), 0)


def features_row(retriever: Retriever, q: dict, now, judged) -> dict:
    """One question's row: the gold article's rank and each judged candidate's features and gold flag."""
    gold = set(q["gold"])
    cands = [{"x": {f: round(float(v), 5) for f, v in zip(FEATURES, ev.vector())},
              "gold": retriever.passages[c.row].article_id in gold} for c, ev in judged if ev is not None]
    return {"id": q["id"], "rank": gold_rank(retriever, judged, gold), "cands": cands}


def collect(retriever: Retriever, questions: list[dict], out: Path, row=features_row) -> list[dict]:
    """Per question, `row(retriever, question, now, judged candidates)`, cached in `out`."""
    if out.is_file():
        return read_jsonl(out)
    rows = []
    for q in questions:
        now = datetime.fromisoformat(q["now"]) if q.get("now") else None
        rows.append(row(retriever, q, now, retriever.explain(q["question"], CANDIDATES, now)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def run_all(eval_dir: Path, work: Path, limit: int | None, passage_vectors: str | None = None) -> dict[str, dict]:
    """Build the indexes and collect every (question set, index) pair the tables need.

    `passage_vectors` ("fp32"/"int8") overrides the config for indexes built here (use its own --work:
    an index keeps the kind it was built with)."""
    import dataclasses

    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    if passage_vectors:
        cfg = dataclasses.replace(cfg, index=dataclasses.replace(cfg.index, passage_vectors=passage_vectors))
    encoder = encoder_for(cfg.index)
    qs = {name: read_jsonl(eval_dir / "questions" / f"{name}.jsonl") for name in (*ANSWERABLE, *UNANSWERABLE)}
    if limit:
        qs = {k: v[:limit] for k, v in qs.items()}
    rng = np.random.default_rng(7)
    runs: dict[str, dict] = {}
    for source in ANSWERABLE:
        own = build(source, [source], eval_dir, work, encoder, cfg)
        family = FAMILY[source]
        hidden = build(f"hide-{family}", list(HIDDEN_CORPORA[family]), eval_dir, work, encoder, cfg)
        r_own = Retriever.load(own, encoder, cfg.retrieval)
        r_hid = Retriever.load(hidden, encoder, cfg.retrieval)
        questions = qs[source]
        sample = [questions[i] for i in sorted(rng.choice(len(questions), min(HIDDEN_SAMPLE, len(questions)), replace=False))]
        t0 = time.perf_counter()
        runs[f"{source}@own"] = {"source": source, "answerable": True, "rows": collect(r_own, questions, work / "features" / f"{source}@own.jsonl")}
        runs[f"{source}@hidden"] = {"source": source, "answerable": False, "rows": collect(r_hid, sample, work / "features" / f"{source}@hidden.jsonl")}
        for other in UNANSWERABLE:
            runs[f"{other}@{source}"] = {"source": other, "answerable": False,
                                         "rows": collect(r_own, qs[other], work / "features" / f"{other}@{source}.jsonl")}
        print(f"collected {source} in {time.perf_counter() - t0:.0f} s", flush=True)
        r_own.close()
        r_hid.close()
    return runs


def design(runs: dict[str, dict], keep, features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate rows (features, gold label, weight) of the runs whose source `keep` accepts.

    Every source weighs the same in total, positives and negatives apart, so neither a big set
    nor the majority class decides the fit.
    """
    xs, ys, ws = [], [], []
    for run in runs.values():
        if not keep(run["source"]):
            continue
        x = np.array([[c["x"][f] for f in features] for r in run["rows"] for c in r["cands"]],
                     dtype=np.float64).reshape(-1, len(features))
        y = np.array([c["gold"] for r in run["rows"] for c in r["cands"]], dtype=np.float64)
        w = np.zeros(len(y))
        for label in (0, 1):
            m = y == label
            if m.any():
                w[m] = 1.0 / m.sum()
        xs.append(x)
        ys.append(y)
        ws.append(w)
    w = np.concatenate(ws)
    return np.vstack(xs), np.concatenate(ys), w * len(w) / w.sum()


def question_scores(run: dict, weights: np.ndarray, bias: float, features: tuple[str, ...]) -> np.ndarray:
    """Each question's best candidate probability (0 when nothing could be judged)."""
    out = np.zeros(len(run["rows"]))
    for i, r in enumerate(run["rows"]):
        if r["cands"]:
            x = np.array([[c["x"][f] for f in features] for c in r["cands"]])
            out[i] = (1 / (1 + np.exp(-(x @ weights + bias)))).max()
    return out


def old_scores(run: dict) -> np.ndarray:
    """Each question's best relevance under the old rule (coverage is feature 1)."""
    w, _ = OLD_RULE
    return np.array([max(((1 - w) * c["x"]["coverage"] + w * max(0.0, c["x"]["cosine"]) for c in r["cands"]), default=0.0)
                     for r in run["rows"]])


MAX_REFUSED = 0.03  # on every training source, at most this share of answerable questions refused
MAX_CONFIDENT_WRONG = 0.03  # on average over the training sources, at most this share of unanswerable ones answered confidently


def lines(scores: dict[str, np.ndarray], answerable: dict[str, bool]) -> tuple[float, float]:
    """(answer_at, hedge_at) from training runs alone.

    hedge_at, the "not found" line: the highest that refuses at most MAX_REFUSED of the answerable
    questions of every training source (the worst source decides: no source is sacrificed).
    answer_at: the lowest at which, averaged over the unanswerable training runs, at most
    MAX_CONFIDENT_WRONG are answered without a hedge; never below hedge_at. (The worst run deciding
    here too put half of CMRC's answers under a hedge: a noisy negative set set the line.)
    """
    pos = [s for k, s in scores.items() if answerable[k]]
    neg = [s for k, s in scores.items() if not answerable[k]]
    hedge = min(float(np.quantile(s, MAX_REFUSED)) for s in pos)
    grid = np.linspace(0.0, 1.0, 1001)
    answer = next(float(t) for t in grid if np.mean([np.mean(s >= t) for s in neg]) <= MAX_CONFIDENT_WRONG)
    return max(answer, hedge), hedge


def table_row(name: str, pos: list[dict], neg: list[dict], pos_s, neg_s, answer_at: float, hedge_at: float) -> str:
    """One Markdown row: refusal and hedge shares on each side, and R@1 / R@5 of the answerable ones."""
    cells = [name]
    if pos:
        ranks = np.concatenate([[r["rank"] for r in p["rows"]] for p in pos])
        s = np.concatenate(pos_s)
        cells += [f"{np.mean(s < hedge_at):.1%}", f"{np.mean((s >= hedge_at) & (s < answer_at)):.1%}",
                  f"{np.mean((ranks >= 1) & (ranks <= 1)):.3f}", f"{np.mean((ranks >= 1) & (ranks <= 5)):.3f}"]
    else:
        cells += ["–"] * 4
    if neg:
        s = np.concatenate(neg_s)
        cells += [f"{np.mean(s < hedge_at):.1%}", f"{np.mean((s >= hedge_at) & (s < answer_at)):.1%}",
                  f"{np.mean(s >= answer_at):.1%}"]
    else:
        cells += ["–"] * 3
    return "| " + " | ".join(cells) + " |"


HEADER = ("| left out | answerable refused | answerable hedged | R@1 | R@5 | unanswerable refused | "
          "unanswerable hedged | unanswerable answered |\n|---|---|---|---|---|---|---|---|")


def loso(runs: dict[str, dict], l2: float, features: tuple[str, ...]) -> None:
    """Print the leave-one-source-out table for the model and for the old rule."""
    sources = [*ANSWERABLE, *UNANSWERABLE]
    model_rows, old_rows, fitted = [], [], []
    for left in sources:
        x, y, w = design(runs, lambda s: s != left, features)
        weights, bias = fit_logistic(x, y, w, l2=l2)
        fitted.append((left, weights, bias))
        train = {k: question_scores(r, weights, bias, features) for k, r in runs.items() if r["source"] != left}
        answer_at, hedge_at = lines(train, {k: runs[k]["answerable"] for k in train})
        test = {k: r for k, r in runs.items() if r["source"] == left}
        pos = [r for r in test.values() if r["answerable"]]
        neg = [r for r in test.values() if not r["answerable"]]
        model_rows.append(table_row(left, pos, neg, [question_scores(r, weights, bias, features) for r in pos],
                                    [question_scores(r, weights, bias, features) for r in neg], answer_at, hedge_at))
        old_rows.append(table_row(left, pos, neg, [old_scores(r) for r in pos], [old_scores(r) for r in neg],
                                  OLD_RULE[1], OLD_RULE[1]))
    print(f"\nLeave one source out — answerability model over {', '.join(features)} "
          "(fitted and its lines chosen without the left-out source):")
    print(HEADER)
    print("\n".join(model_rows))
    print("\nThe same questions under the old rule (0.25 coverage + 0.75 cosine >= 0.79, calibrated on CMRC only):")
    print(HEADER)
    print("\n".join(old_rows))
    print("\nWeights fitted without each source (how stable the model is):")
    print("| left out | " + " | ".join(features) + " | bias |\n|---|" + "---|" * (len(features) + 1))
    for left, weights, bias in fitted:
        print(f"| {left} | " + " | ".join(f"{v:+.2f}" for v in weights) + f" | {bias:+.2f} |")


def fit_all(runs: dict[str, dict], l2: float, features: tuple[str, ...]) -> None:
    """Fit on every source and print the model for index/search/answer_model.json (training figures)."""
    x, y, w = design(runs, lambda s: True, features)
    weights, bias = fit_logistic(x, y, w, l2=l2)
    scores = {k: question_scores(r, weights, bias, features) for k, r in runs.items()}
    answer_at, hedge_at = lines(scores, {k: r["answerable"] for k, r in runs.items()})
    fitted = {"weights": {f: round(float(v), 3) for f, v in zip(features, weights)}, "bias": round(bias, 3),
              "answer_at": round(answer_at, 3), "hedge_at": round(hedge_at, 3)}
    print("\nFitted on every source — put these in index/search/answer_model.json, with its provenance "
          "(the figures below are TRAINING figures):")
    print(json.dumps(fitted))
    print(HEADER)
    for source in (*ANSWERABLE, *UNANSWERABLE):
        test = [r for r in runs.values() if r["source"] == source]
        pos = [r for r in test if r["answerable"]]
        neg = [r for r in test if not r["answerable"]]
        print(table_row(f"{source} (training)", pos, neg, [question_scores(r, weights, bias, features) for r in pos],
                        [question_scores(r, weights, bias, features) for r in neg], answer_at, hedge_at))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default=str(ROOT / "var" / "eval"), help="what bench/evalsets.py wrote")
    ap.add_argument("--work", default=str(ROOT / "var" / "eval" / "work"), help="indexes and cached features")
    ap.add_argument("--limit", type=int, help="questions per set (a quick look)")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--fit", action="store_true", help="also fit on every source and print the config lines")
    ap.add_argument("--features", default=",".join(DEFAULT_FEATURES),
                    help=f"comma-separated, of {', '.join(FEATURES)}; more than one set separated by ';' each get a table")
    ap.add_argument("--passage-vectors", choices=("fp32", "int8"),
                    help="the kind of passage vector of indexes built here (default: config.toml's)")
    args = ap.parse_args()
    runs = run_all(Path(args.eval), Path(args.work), args.limit, args.passage_vectors)
    for spec in args.features.split(";"):
        features = tuple(f.strip() for f in spec.split(",") if f.strip())
        loso(runs, args.l2, features)
        if args.fit:
            fit_all(runs, args.l2, features)


if __name__ == "__main__":
    main()
