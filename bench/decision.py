"""Does the answer decision hold on a source it was never chosen on? Leave one source out (issue #20).

Usage:
    python bench/evalsets.py && python bench/evalsets_news.py     # once: corpora and questions in var/eval
    python bench/decision.py [--limit 300]                          # builds the indexes (vectors cached), prints

Every index is calibrated when it is opened (index.search.calibration, with the shipped unrelated
questions, none of which is in any set here). A question's relevance is its best candidate's
(RelevanceRule: standing + w x coverage - p x headline). For each left-out source, the two lines are
chosen on the OTHER sources only (the highest "not found" line that refuses at most 2 % of every
training source's answerable questions, and the highest answer line that hedges at most 8 % more),
then applied to the left-out one; a source's own index family is left out with it. The rule's form
(w, p) is printed for a small grid, each cell by the same leave-one-source-out procedure.

Answerable: each set asked of an index of its own corpus (seed: the 44-passage index of seeds/).
Unanswerable: encyclopedia questions asked of the news index and news questions asked of the CMRC
index (unrelated), LCCC chatter and bench/offtopic_questions.txt asked of every own index, and the
seed set's off-topic and stopword-only inputs. R@k: the gold article among the first k articles of
the fused ranking (the order hits are quoted in).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answerability import build, collect, gold_rank, read_jsonl  # noqa: E402
from index import Retriever, build_index, load_config  # noqa: E402
from index.search.query import prepare  # noqa: E402

OWN = {  # answerable set -> the corpora of its own index
    "cmrc": ["cmrc"], "cmrc-tw": ["cmrc-tw"], "cmrc-trial": ["cmrc-trial"], "cmrc-tw-long": ["cmrc-tw-long"],
    "xwlb": ["xwlb"], "dxy": ["dxy"], "dxy-topic": ["dxy"], "crud": ["crud"], "seed": None,
}
INDEX_OF = {"dxy-topic": "dxy"}
FAMILY = {"cmrc-tw": "cmrc", "cmrc-tw-long": "cmrc-trial", "dxy-topic": "dxy"}
NEWS = ("xwlb", "dxy", "dxy-topic", "crud")
FEATURES_DIR = "decision2"
MAX_REFUSED, MAX_HEDGED = 0.02, 0.08


def family(name: str) -> str:
    return FAMILY.get(name, name)


def seed_index(work: Path, encoder, cfg) -> Path:
    """The product's own 44-passage index of seeds/."""
    folder = work / "index" / "seed"
    if not (folder / "current").exists():
        build_index([ROOT / "seeds"], folder, encoder, cfg.index, progress=False)
    return folder


def decision_row(retriever: Retriever, q: dict, now, judged) -> dict:
    """One question's row: gold rank, whether it has a topic word, each candidate's standing, coverage,
    headline, cosine and bm25_ratio (the last two for the fitted model's "before" figures)."""
    return {"id": q.get("id"), "rank": gold_rank(retriever, judged, set(q.get("gold", []))),
            "topical": prepare(q["question"], now).topical,
            "cands": [[round(ev.standing, 4), round(ev.coverage, 4), int(ev.headline), round(ev.cosine, 5),
                       round(ev.bm25_ratio, 4)] for _, ev in judged if ev is not None]}


def run_all(eval_dir: Path, work: Path, limit: int) -> dict[str, dict]:
    """Every (question set, index) run the table needs: {name: {source, answerable, rows}}."""
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    rng = np.random.default_rng(7)

    def questions(name: str) -> list[dict]:
        qs = read_jsonl(eval_dir / "questions" / f"{name}.jsonl")
        if limit and len(qs) > limit:
            qs = [qs[i] for i in sorted(rng.choice(len(qs), limit, replace=False))]
        return qs

    def index(name: str) -> Path:
        if name == "seed":
            return seed_index(work, encoder, cfg)
        return build(INDEX_OF.get(name, name), OWN[name], eval_dir, work, encoder, cfg)

    runs: dict[str, dict] = {}
    opened: dict[Path, Retriever] = {}

    def ask(qset: str, source: str, answerable: bool, folder: Path, qs: list[dict]) -> None:
        if folder not in opened:
            opened[folder] = Retriever.load(folder, encoder, cfg.retrieval)
        name = f"{qset}@{folder.name}"
        t0 = time.perf_counter()
        runs[name] = {"source": source, "index": folder.name, "answerable": answerable,
                      "rows": collect(opened[folder], qs, work / FEATURES_DIR / f"{name}.jsonl", decision_row)}
        print(f"  {name}: {len(qs)} questions, {time.perf_counter() - t0:.0f} s", flush=True)

    news_index = build("hide-cmrc", ["xwlb", "dxy"], eval_dir, work, encoder, cfg)
    cmrc_index = index("cmrc")
    seed_qs = read_jsonl(eval_dir / "questions" / "seed.jsonl")
    for source in OWN:
        own = index(source)
        if source == "seed":
            ask("seed", "seed", True, own, [q for q in seed_qs if q["answerable"]])
            ask("seed-off", "seed-off", False, own, [q for q in seed_qs if not q["answerable"]])
        else:
            ask(source, source, True, own, questions(source))
            unrelated = cmrc_index if source in NEWS else news_index
            ask(source, source, False, unrelated, questions(source))
        if source != "dxy-topic":
            ask("lccc", "lccc", False, own, questions("lccc"))
            ask("offtopic", "offtopic", False, own, questions("offtopic"))
    for r in opened.values():
        r.close()
    return runs


def scores(run: dict, weight: float, penalty: float) -> np.ndarray:
    """Each question's relevance (its best candidate's); -inf for one without a topic word or candidates."""
    out = np.full(len(run["rows"]), -np.inf)
    for i, r in enumerate(run["rows"]):
        if r["topical"] and r["cands"]:
            c = np.array(r["cands"], dtype=np.float64)
            out[i] = (c[:, 0] + weight * c[:, 1] - penalty * c[:, 2]).max()
    return out


def before_scores(run: dict, model) -> np.ndarray:
    """Each question's best probability under the fitted logistic model (the decision before issue #20)."""
    out = np.zeros(len(run["rows"]))
    for i, r in enumerate(run["rows"]):
        if r["cands"]:
            out[i] = max(model.probability({"cosine": c[3], "coverage": c[1], "bm25_ratio": c[4], "cos_z": 0.0,
                                            "lex_rank": 0.0, "dense_rank": 0.0, "numbers": 1.0, "standing": 0.0,
                                            "headline": 0.0}) for c in r["cands"])
    return out


def before_table(runs: dict[str, dict], model) -> list[str]:
    """Per source: the fitted model with its shipped lines on the same questions (its own figures, not left out)."""
    out = []
    for source in sorted({r["source"] for r in runs.values()}):
        pos = [before_scores(r, model) for r in runs.values() if r["source"] == source and r["answerable"]]
        neg = [before_scores(r, model) for r in runs.values() if r["source"] == source and not r["answerable"]]
        cells = [source]
        if pos:
            p = np.concatenate(pos)
            cells += [f"{np.mean(p < model.hedge_at):.1%}", f"{np.mean((p >= model.hedge_at) & (p < model.answer_at)):.1%}"]
        else:
            cells += ["–", "–"]
        if neg:
            n = np.concatenate(neg)
            cells += [f"{np.mean(n < model.hedge_at):.1%}", f"{np.mean(n >= model.answer_at):.1%}"]
        else:
            cells += ["–", "–"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def choose_lines(train: list[np.ndarray]) -> tuple[float, float]:
    """(quote_at, confident_at) from the training sources' answerable relevances (the worst source decides)."""
    quote = min(float(np.quantile(s, MAX_REFUSED)) for s in train)
    confident = min(float(np.quantile(s, MAX_REFUSED + MAX_HEDGED)) for s in train)
    return quote, max(quote, confident)


def loso(runs: dict[str, dict], weight: float, penalty: float) -> tuple[list[list[str]], dict]:
    """The table's rows, one per left-out source, and the worst figures over them."""
    s = {k: scores(r, weight, penalty) for k, r in runs.items()}
    rows, worst = [], {"refused": 0.0, "hedged": 0.0, "unanswerable refused": 1.0}
    for left in sorted({r["source"] for r in runs.values()}):
        keep = [k for k, r in runs.items() if family(r["source"]) != family(left)
                and family(r["index"]) != family(left) and r["answerable"]]
        quote, confident = choose_lines([s[k] for k in keep])
        test = [(k, r) for k, r in runs.items() if r["source"] == left]
        cells = [left]
        pos = [(s[k], r) for k, r in test if r["answerable"]]
        if pos:
            p = np.concatenate([x for x, _ in pos])
            ranks = np.concatenate([[row["rank"] for row in r["rows"]] for _, r in pos])
            refused, hedged = np.mean(p < quote), np.mean((p >= quote) & (p < confident))
            worst["refused"], worst["hedged"] = max(worst["refused"], refused), max(worst["hedged"], hedged)
            cells += [f"{len(p)}", f"{refused:.1%}", f"{hedged:.1%}", f"{np.mean(ranks == 1):.3f}",
                      f"{np.mean((ranks >= 1) & (ranks <= 5)):.3f}"]
        else:
            cells += ["–"] * 5
        neg = [s[k] for k, r in test if not r["answerable"]]
        if neg:
            n = np.concatenate(neg)
            worst["unanswerable refused"] = min(worst["unanswerable refused"], np.mean(n < quote))
            cells += [f"{len(n)}", f"{np.mean(n < quote):.1%}", f"{np.mean(n >= confident):.1%}"]
        else:
            cells += ["–"] * 3
        cells += [f"{quote:.2f}", f"{confident:.2f}"]
        rows.append(cells)
    return rows, worst


HEADER = ("| left out | answerable | refused | hedged | R@1 | R@5 | unanswerable | refused | answered confidently "
          "| quote_at | confident_at |\n|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default=str(ROOT / "var" / "eval"), help="what bench/evalsets*.py wrote")
    ap.add_argument("--work", default=str(ROOT / "var" / "eval" / "work"), help="indexes and cached features")
    ap.add_argument("--features", default="decision2", help="the cache folder of collected features, under --work")
    ap.add_argument("--limit", type=int, default=300, help="questions per set (seeded sample)")
    ap.add_argument("--form", help="coverage_weight,headline_penalty for the detailed table (default: configured)")
    args = ap.parse_args()
    global FEATURES_DIR
    FEATURES_DIR = args.features
    runs = run_all(Path(args.eval), Path(args.work), args.limit)
    cfg = load_config(ROOT / "config.toml").retrieval
    if args.form:
        weight, penalty = (float(v) for v in args.form.split(","))
        cfg = dataclasses.replace(cfg, coverage_weight=weight, headline_penalty=penalty)
    print(f"\nThe rule's form, each cell leave-one-source-out (worst left-out source):")
    print("| coverage weight | headline penalty | most refused | most hedged | fewest unanswerable refused |\n|---|---|---|---|---|")
    for weight, penalty in itertools.product((0.0, 1.0, 2.0, 3.0, 4.0, 5.0), (0.0, 1.0, 2.0)):
        _, w = loso(runs, weight, penalty)
        print(f"| {weight:g} | {penalty:g} | {w['refused']:.1%} | {w['hedged']:.1%} | {w['unanswerable refused']:.1%} |")
    print(f"\nLeave one source out, the configured form (coverage weight {cfg.coverage_weight:g}, headline penalty "
          f"{cfg.headline_penalty:g}); lines chosen without the left-out source:")
    print(HEADER)
    rows, _ = loso(runs, cfg.coverage_weight, cfg.headline_penalty)
    print("\n".join("| " + " | ".join(r) + " |" for r in rows))
    print("\nThe same questions under the fitted logistic model with its shipped lines (the decision before issue #20;"
          " fitted on cmrc, cmrc-tw, xwlb, dxy, lccc, offtopic: a training figure there):")
    print("| source | answerable refused | hedged | unanswerable refused | answered confidently |\n|---|---|---|---|---|")
    print("\n".join(before_table(runs, cfg.answer_model())))
    every = [scores(r, cfg.coverage_weight, cfg.headline_penalty) for r in runs.values() if r["answerable"]]
    quote, confident = choose_lines(every)
    print(f"\nLines chosen on every source (TRAINING figures; index/search/answer_model.json): "
          f"quote_at = {quote:.2f}, confident_at = {confident:.2f} (configured: {cfg.quote_at}, {cfg.confident_at})")


if __name__ == "__main__":
    main()
