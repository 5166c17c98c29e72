"""Build the issue-20 evaluation sets into var/eval/ (same layout as bench/evalsets.py), seeded and reproducible.

Usage:
    python bench/evalsets_news.py [--shared ../shared] [--out var/eval] [--seed 13] [--only seed,crud,...]

Sets (corpus var/eval/corpora/<source>.jsonl, questions var/eval/questions/<set>.jsonl):
    seed          the seed article cleaned by the project's own reader (one article, the id the index gives it)
                  and the hand-written questions of tests/data/seed_questions.jsonl (30 answerable with the
                  answering paragraph(s), 20 off-topic, 5 stopword-only)
    crud          crud-news 2023 grouped into same-event clusters (char-3-gram TF-IDF cosine over the first 300
                  characters, dates at most a day apart); the articles of the kept clusters (>= 3 articles) plus
                  random other crud articles, 3,000 in all (--crud-articles; ~11.6k passages); ~400 cloze questions (number with unit, person,
                  place, date) each with a same-topic negative in the corpus (see topic_questions)
    dxy-topic     the same recipe on dxy-news (clusters over title + body); the corpus is dxy's, written again
                  as dxy-topic.jsonl so the bench can take the source by name (its vectors are shared)
    cmrc-trial    CMRC 2018 trial, like bench/evalsets.py's cmrc (ids cmrctrial-N)
    cmrc-tw-long  CMRC trial with each paragraph merged with its nearest paragraphs by topic into long ones
                  (600-1,200 characters), passages and questions through OpenCC s2twp plus Taiwan terms that t2s
                  keeps (軟體 / 資訊 / 網路 come from s2twp; 品質, 水準, 普丁, 雪梨, 撞球 … are added), 「」 quotes and
                  公尺 / 公分 units, and the questions' wording shifted (何時, 為何, 如何, 何處, 哪位, 甚麼, 幾多)

Question rule for crud and dxy-topic (topic_questions): a cloze question is made from one sentence of a
cluster's article (bench/evalsets.py's slots and templates; number slots need a unit). Its stem is the text
around the slot, its filler the slot's text. Gold = every corpus article where the stem occurs with the
filler in the slot, plus cluster articles holding the filler in a window that shares >= 60 % of the stem's
character bigrams (a reworded report of the same fact). The question is dropped when any corpus article
has the stem with another filler, when a cluster article holds the filler in a window sharing 25-60 % of
the stem (unclear), or when no cluster article is a negative: one outside the gold set that does not
contain the filler at all (a same-topic negative).
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.evalsets import (at, cloze, ingest, write_sets, number_ids, pick_slots, question, read_jsonl, sentences,  # noqa: E402
                            slots, text_index, write_jsonl)

SEED_FILE = ROOT / "seeds" / "000_eb63601c10643f4d.txt"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


# ---------------------------------------------------------------- seed

def seed_set(seed_file: Path = SEED_FILE, questions_file: Path = SEED_QUESTIONS) -> tuple[list[dict], list[dict]]:
    """The seed article (as the project's reader cleans it, with the id the index gives it) and its questions.

    The corpus is the article alone, in ingest format (7 passages: the title and 6 paragraphs). The
    product's 44-passage seed index also holds the page's 38 listed headlines (37 once the one equal to
    the title is dropped), which JSONL cannot express; build from the seed file itself to get those.
    """
    from index.ingest.seeds import read_seed_file

    batch = read_seed_file(seed_file)
    art = batch.articles[0]
    corpus = [{"id": art.id, "title": art.title, "published_at": art.published_at, "source": art.source or "seed",
               "url": art.url or "", "body": "\n".join(art.paragraphs)}]
    out = []
    for row in read_jsonl(questions_file):
        for p, needle in zip(row["paragraphs"], row["contains"]):
            if needle not in art.paragraphs[p]:
                raise ValueError(f"{row['question']}: {needle!r} not in paragraph {p}")
        kind = row["style"].split("-")[0]
        q = question("", row["question"], "seed", [art.id] if row["answerable"] else [], None, kind)
        q.update(paragraphs=row["paragraphs"], contains=row["contains"], style=row["style"])
        out.append(q)
    return corpus, number_ids(out, "seed")


# ---------------------------------------------------------------- same-event clusters

DATELINE = re.compile(r"^(?:原标题[：:][^。！？\s]{0,60}\s*)?(?:.{0,40}?(?:电|讯|消息)\s*[（(][^）)]{0,40}[）)]\s*|"
                      r".{0,30}?(?:日电|日讯)[：:\s]*)?")
TEMPLATE = re.compile(r"\(\d+\.\d+, -?\d+\.\d+, -?\d+\.\d+%\)|策略之王|开奖|排列三|双色球|大乐透|福彩|体彩|主力资金|龙虎榜")


def lead_text(text: str, n: int = 300) -> str:
    """The first n characters after an "原标题：…" line and a dateline (…电（记者…）)."""
    return DATELINE.sub("", text[:n + 80], count=1)[:n]


def day_number(published_at: str | None) -> int | None:
    """The calendar day (ordinal) of an ISO timestamp, or None when undated."""
    return date.fromisoformat(published_at[:10]).toordinal() if published_at else None


def clusters_of(texts: list[str], days: list[int | None], skip: set[int], threshold: float = 0.22,
                undated_threshold: float = 0.3, max_size: int = 25, max_df: float = 0.002) -> list[list[int]]:
    """Same-event clusters: connected components of the pairs whose char-3-gram TF-IDF cosine (rare 3-grams
    only: in at most max_df of the texts) reaches the threshold and whose dates are at most a day apart (a higher threshold when one is
    undated). A component bigger than max_size is split again with the threshold raised by 0.1."""
    import numpy as np
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    keep = [i for i in range(len(texts)) if i not in skip]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), min_df=2, max_df=max_df, sublinear_tf=True)
    x = vec.fit_transform([texts[i] for i in keep])
    sim = (x @ x.T).tocoo()
    rows, cols, vals = sim.row, sim.col, sim.data
    upper = rows < cols
    rows, cols, vals = rows[upper], cols[upper], vals[upper]
    d = np.array([days[i] if days[i] is not None else -10**6 for i in keep])
    dated = (d[rows] > 0) & (d[cols] > 0)
    near = np.abs(d[rows] - d[cols]) <= 1
    ok = (dated & near & (vals >= threshold)) | (~dated & (vals >= undated_threshold))
    edges = sorted(zip(rows[ok].tolist(), cols[ok].tolist(), vals[ok].tolist()))

    def split(members: list[int], th: float) -> list[list[int]]:
        from scipy.sparse import coo_matrix

        pos = {m: k for k, m in enumerate(members)}
        e = [(pos[a], pos[b]) for a, b, v in edges if v >= th and a in pos and b in pos]
        if not e:
            return [[m] for m in members]
        g = coo_matrix(([1] * len(e), ([a for a, _ in e], [b for _, b in e])), shape=(len(members),) * 2)
        n, labels = connected_components(g, directed=False)
        groups = defaultdict(list)
        for m, lab in zip(members, labels):
            groups[lab].append(m)
        out = []
        for g_members in groups.values():
            if len(g_members) > max_size and th < 0.95:
                out += split(g_members, th + 0.1)
            else:
                out.append(g_members)
        return out

    comps = split(list(range(len(keep))), threshold)
    return sorted((sorted(keep[m] for m in c) for c in comps if len(c) >= 2), key=lambda c: c[0])


# ---------------------------------------------------------------- questions with same-topic negatives

UNIT = re.compile(r"^(?:多|余)?(?:万|亿|千|百)?(?:人次|人|元|美元|港元|欧元|个|名|家|辆|吨|公里|千米|平方米|平方公里|米|岁|次|件|场|项|"
                  r"所|座|架|艘|只|头|株|亩|立方米|小时|分钟|秒|天|倍|户|套|台|部|条|种|位|例|起|批|篇|份|公斤|千克|克|升|度|℃|毫米|"
                  r"厘米|块|枚|支|届|周年|年|个月|周|轮|票|分|斤|箱|盒|剂|针|所|栋|间|张|本|期|辆|列|趟|班|航班|城|省|国|村|处)")
KINDS = {"number", "person", "place", "when"}
PLACE_END = tuple("省市县区镇乡村州岛山湖江河港湾洲国") + ("自治区", "特区")
PLACE_BEFORE = ("在", "到", "赴", "于", "从", "至", "往", "抵", "来自", "位于", "访问", "前往", "抵达", "飞抵", "途经", "返回")
NOT_A_SENTENCE = re.compile(r"[电讯]\s*[（(]|日电|日讯|记者|通讯员|报道[：:]|消息[：:]|■|●|原标题|本文|编者按|图/|文/|"
                            r"来源[：:]|责任编辑|点击|扫码|关注公众号")
NOT_A_PLACE = set("上市 午休 海岛 台风 内陆 沿海 海上 海外 国内 当地 本地 外地 全国 全省 全市 东北 西北 华北 华南 华东 西南 "
                  "中部 东部 西部 南部 北部 城区 郊区 景区 园区 社区 辖区 农村 山区 水下 地下 高原 北方 南方 大陆 内地".split())


def slot_ok(sentence: str, slot: tuple[int, int, str]) -> bool:
    """A slot worth asking: not a list member; a number with a unit; a place that reads as a place."""
    start, end, kind = slot
    if kind not in KINDS or sentence[start - 1:start] in "、和及与" and start > 0 or sentence[end:end + 1] in ("、", "和", "及", "与"):
        return False
    word = sentence[start:end]
    if sentence[end:end + 1] in ("：", ":", "龄") or kind == "person" and re.search(r"某|老板|先生|女士|小姐|师傅", word):
        return False
    if kind == "number":
        return bool(UNIT.match(sentence[end:])) or word[-1] in "%％万亿"
    if kind == "place":
        return word not in NOT_A_PLACE and (sentence[:start].endswith(PLACE_BEFORE) or word.endswith(PLACE_END)
                                            and (len(word) >= 3 or word.endswith("国")))
    return True


def bigrams(text: str) -> set[str]:
    """Character bigrams of the text's CJK/alphanumeric characters."""
    t = re.sub(r"[^\w]", "", text)
    return {t[i:i + 2] for i in range(len(t) - 1)}


def stem_regex(left: str, right: str) -> re.Pattern:
    """The stem with the slot as a named group (the slot: up to 15 characters within a clause)."""
    slot = r"(?P<f>[^，。！？；\n\x00]{1,15}?)"
    if left and right:
        return re.compile(re.escape(left) + slot + re.escape(right))
    if left:
        return re.compile(re.escape(left) + r"(?P<f>[^，。！？；\n\x00]{1,15})")
    return re.compile(r"(?P<f>[^，。！？；\n\x00]{1,15})" + re.escape(right))


def slot_filled(found: str, filler: str, left: str, right: str) -> bool:
    """True when a stem match's slot holds the filler (the whole slot, or its start/end for a one-sided stem)."""
    if left and right:
        return found == filler or (filler in found and len(found) <= len(filler) + 2)
    return found.startswith(filler) if left else found.endswith(filler)


def window_overlap(body: str, filler: str, stem: set[str], width: int = 40) -> float:
    """The best share of the stem's bigrams found within `width` characters of an occurrence of the filler."""
    best, start = 0.0, body.find(filler)
    while start >= 0 and stem:
        around = bigrams(body[max(0, start - width):start + len(filler) + width])
        best = max(best, len(stem & around) / len(stem))
        start = body.find(filler, start + 1)
    return best


def stem_matches(rx: re.Pattern, left: str, right: str, text: str) -> list[tuple[int, str]]:
    """(start, slot text) of every stem match, found around each occurrence of the stem's longer literal part."""
    lit = max(left, right, key=len)
    out, seen, p = [], set(), text.find(lit)
    while p >= 0:
        lo = max(0, p - (len(left) + 16 if lit is right else 0))
        hi = p + len(lit) + (16 + len(right) if lit is left else 0)
        for m in rx.finditer(text, lo, hi):
            if m.start() not in seen:
                seen.add(m.start())
                out.append((m.start(), m.group("f")))
        p = text.find(lit, p + 1)
    return out


def judge(q: dict, sentence: str, slot: tuple[int, int, str], cluster: list[str], index: dict,
          body_of: dict[str, str], day_of: dict | None = None, source: str | None = None
          ) -> tuple[list[str], list[str], bool] | None:
    """(gold, clean same-topic negatives, dated) of a cloze question, or None when it must be dropped.

    With day_of (dxy-topic): a stem that other articles state with another filler on other days (daily
    bulletins) makes a dated question instead: gold = the source's day's articles stating it with this
    filler; the other days' articles with another filler are same-topic negatives."""
    start, end, _ = slot
    filler = sentence[start:end]
    text = q["text"].rstrip("？")
    left, _, right = text.partition(q["wh"])
    rx = stem_regex(left, right)
    gold, other = set(), set()
    for pos, found in stem_matches(rx, left, right, index["text"]):
        aid = index["ids"][bisect.bisect_right(index["starts"], pos) - 1]
        (gold if slot_filled(found, filler, left, right) else other).add(aid)
    dated, other = False, other - gold
    if other:
        day = day_of.get(source) if day_of else None
        if day is None or any(day_of.get(o) in (day, None) for o in other):
            return None  # the stem with another filler in an article that never states ours
        dated, gold = True, {g for g in gold if day_of.get(g) == day}
    stem = bigrams(left + right)
    negatives = []
    for aid in cluster:
        if aid in gold:
            continue
        body = body_of[aid]
        if filler not in body or aid in other:
            negatives.append(aid)
            continue
        if dated and day_of.get(aid) != day:
            continue  # another day's article stating the same figure: neither gold nor a clean negative
        share = window_overlap(body, filler, stem)
        if share >= 0.6:
            gold.add(aid)
        elif share >= 0.25:
            return None
    if not gold or not negatives:
        return None
    return sorted(gold), negatives, dated


def topic_questions(corpus: list[dict], clusters: list[list[str]], n: int, rng: random.Random, source: str,
                    per_cluster: int = 2, max_share: float = 0.45, dated_share: float = 0.0,
                    distinct_kinds: bool = True) -> list[dict]:
    """About n cloze questions, at most per_cluster a cluster (different articles; different kinds unless
    distinct_kinds is off; no kind above max_share of n), each
    with its gold articles and at least one same-topic negative in the corpus. Up to dated_share of them
    may be dated ("M月D日，" + the question, now = a few days later; see judge)."""
    index = text_index(corpus)
    body_of = {a["id"]: a["body"] for a in corpus}
    day_of = {a["id"]: day_number(a["published_at"]) for a in corpus} if dated_share else None
    n_dated = 0
    order = list(range(len(clusters)))
    rng.shuffle(order)
    out, seen, by_kind = [], set(), Counter()
    for ci in order:
        if len(out) >= n:
            break
        cluster = clusters[ci]
        members = list(cluster)
        rng.shuffle(members)
        made, kinds = 0, {k for k in KINDS if by_kind[k] >= max_share * n}
        for aid in members:
            if made >= per_cluster or len(out) >= n:
                break
            found = make_one(aid, body_of[aid], cluster, index, body_of, rng, kinds,
                             day_of if n_dated < dated_share * n else None)
            if found and found[0]["text"] not in seen:
                q, gold, negs, kind, dated = found
                seen.add(q["text"])
                if distinct_kinds:
                    kinds.add(kind)
                by_kind[kind] += 1
                text, now = q["text"], None
                if dated:
                    day = date.fromordinal(day_of[aid])
                    text = f"{day.month}月{day.day}日，{text}"
                    now = at(day + timedelta(days=rng.randint(1, 7)), 21)
                    n_dated += 1
                row = question("", text, source, gold, now, kind)
                row.update(cluster=f"{source}-c{ci:04d}", article=aid, answer=q["filler"],
                           negatives=sorted(negs), cluster_size=len(cluster), dated=dated)
                out.append(row)
                made += 1
    return number_ids(out, source)


def make_one(aid: str, body: str, cluster: list[str], index: dict, body_of: dict, rng: random.Random,
             used_kinds: set[str], day_of: dict | None = None):
    """The first good question of an article: sentences and slots in seeded order."""
    sents = sentences(body)
    rng.shuffle(sents)
    sents = [s for s in sents if not NOT_A_SENTENCE.search(s)]
    for s in sents[:8]:
        cands = [sl for sl in slots(s) if sl[2] not in used_kinds and slot_ok(s, sl)]
        for sl in pick_slots(cands, rng):
            q = cloze(s, sl)
            if q is None:
                continue
            q["wh"] = {"number": "多少", "person": "谁", "place": "哪里", "when": "什么时候"}[sl[2]]
            q["filler"] = s[sl[0]:sl[1]]
            left, _, right = q["text"].rstrip("？").partition(q["wh"])
            if len(left) + len(right) < 10 or not any(q["filler"] not in body_of[o] for o in cluster if o != aid):
                continue  # too little context, or no cluster article without the answer (checked cheaply first)
            judged = judge(q, s, sl, cluster, index, body_of, day_of, aid)
            if judged:
                return q, judged[0], judged[1], sl[2], judged[2]
    return None


# ---------------------------------------------------------------- crud and dxy

def crud_title(body: str) -> str:
    """A title for a crud article (upstream has none, the ingest needs one): its first sentence after the
    dateline, cut at 30 characters."""
    first = re.split(r"[。！？\n]", lead_text(body, 200).strip(), maxsplit=1)[0].strip()
    return (first[:30] + "…") if len(first) > 30 else first or body[:30]


def crud_set(path: Path, rng: random.Random, n: int = 400, total: int = 3000,
             cluster_budget: int = 2400) -> tuple[list[dict], list[dict], dict]:
    """The crud corpus (kept clusters + random others, ~total articles) and its questions."""
    records = read_jsonl(path)
    texts = [lead_text(r["body"]) for r in records]
    days = [day_number(r["published_at"]) for r in records]
    skip = {i for i, r in enumerate(records) if TEMPLATE.search(r["body"][:400])}
    clusters = [c for c in clusters_of(texts, days, skip) if len(c) >= 3]
    rng.shuffle(clusters)
    kept, used = [], 0
    for c in clusters:
        if used + len(c) > cluster_budget:
            continue
        kept.append(c)
        used += len(c)
    in_cluster = {i for c in kept for i in c}
    rest = [i for i in range(len(records)) if i not in in_cluster and i not in skip]
    extra = rng.sample(rest, max(0, total - len(in_cluster)))
    chosen = sorted(in_cluster | set(extra))
    corpus = []
    for i in chosen:
        r = ingest(records[i])
        r.update(title=crud_title(r["body"]), source="crud", url="")
        corpus.append(r)
    ids = [records[i]["id"] for i in range(len(records))]
    cl_ids = [[ids[i] for i in c] for c in kept]
    questions = topic_questions(corpus, cl_ids, n, rng, "crud", per_cluster=3, max_share=0.5)
    stats = {"clusters (>= 3) found": len(clusters), "clusters kept": len(kept), "clustered articles": len(in_cluster),
             "template articles skipped": len(skip)}
    return corpus, questions, stats


def dxy_topic_set(path: Path, rng: random.Random, n: int = 300) -> tuple[list[dict], list[dict], dict]:
    """dxy-news as a corpus (all of it) and ~n questions with same-topic negatives."""
    records = read_jsonl(path)
    texts = [(r["title"] or "") + "。" + (r["body"] or "")[:300] for r in records]
    days = [day_number(r["published_at"]) for r in records]
    clusters = [c for c in clusters_of(texts, days, set(), threshold=0.2, max_df=0.02) if len(c) >= 3]
    corpus = [ingest(r) for r in records]
    cl_ids = [[records[i]["id"] for i in c] for c in clusters]
    questions = topic_questions(corpus, cl_ids, n, rng, "dxy-topic", per_cluster=4, dated_share=0.4,
                                distinct_kinds=False, max_share=0.7)
    return corpus, questions, {"clusters (>= 3)": len(clusters), "clustered articles": sum(map(len, clusters))}


# ---------------------------------------------------------------- CMRC trial, and its long Taiwan-shaped twin

def cmrc_trial(path: Path) -> tuple[list[dict], list[dict]]:
    """CMRC trial contexts as articles (ids cmrctrial-N) and its questions, like bench/evalsets.py's load_cmrc."""
    from bench.retrieval_eval import load_squad

    articles, asked = load_squad(path, prefix="cmrctrial", source="cmrc-trial")
    return articles, number_ids([question("", q.text, "cmrc-trial", [q.gold], None, "cmrc") for q in asked], "cmrc-trial")


# Taiwan usage that s2twp does not produce and t2s keeps (applied after s2twp, to passages and questions).
TAIWAN_TERMS = {
    "質量": "品質", "水平": "水準", "普京": "普丁", "悉尼": "雪梨", "檯球": "撞球", "台球": "撞球", "土豆": "馬鈴薯",
    "宇航員": "太空人", "航天飛機": "太空梭", "芝士": "起司", "公交車": "公車", "幼兒園": "幼稚園", "醫保": "健保",
    "身份證": "身分證", "撒切爾": "柴契爾", "肯尼迪": "甘迺迪", "賽季": "球季", "首發": "先發", "導彈": "飛彈",
    "摩托車": "機車", "空調": "冷氣", "硬件": "硬體", "人工智能": "人工智慧", "智能": "智慧", "數碼": "數位",
    "網民": "網友", "菠蘿": "鳳梨", "三文魚": "鮭魚", "攝像頭": "攝影機", "特朗普": "川普", "布什": "布希",
    "希拉里": "希拉蕊", "克林頓": "柯林頓", "默克爾": "梅克爾", "黑客": "駭客", "酒店": "飯店", "盒飯": "便當",
    "打印": "列印", "克隆": "複製", "納米": "奈米", "老撾": "寮國", "沙特": "沙烏地", "也門": "葉門",
    "津巴布韋": "辛巴威", "肯尼亞": "肯亞", "尼日利亞": "奈及利亞", "索馬里": "索馬利亞", "格魯吉亞": "喬治亞",
    "阿塞拜疆": "亞塞拜然", "克羅地亞": "克羅埃西亞", "斯洛文尼亞": "斯洛維尼亞", "貝克漢姆": "貝克漢",
    "本·拉登": "賓拉登", "卡扎菲": "格達費", "朝鮮半島": "韓半島", "集成": "整合", "優化": "最佳化",
    "博客": "部落格", "鏈接": "連結", "短信": "簡訊", "匯編": "組譯", "概率": "機率", "方差": "變異數",
    "高考": "大學聯考", "本科": "大學部", "研究生院": "研究所", "大巴": "巴士", "地鐵": "捷運", "自行車": "腳踏車",
    "視頻": "影片", "動漫": "動畫漫畫", "連續劇": "連續劇", "電視劇": "電視劇集", "主持人": "主持人", "綜藝": "綜藝節目",
    "俱樂部": "俱樂部", "足協": "足球協會", "世界杯": "世界盃", "奧運會": "奧運", "冠軍杯": "冠軍盃", "點球": "罰球",
    "守門員": "守門員", "前鋒": "前鋒", "後衛": "後衛", "單曲": "單曲", "發行": "發行", "唱片公司": "唱片公司",
}
# Question wording a Taiwan user would shift to (t2s keeps these as 何时, 为何, 如何, 何处, 哪位).
QUESTION_SHIFT = [(r"什麼時候", "何時"), (r"(?<!因)為什麼", "為何"), (r"怎麼樣", "如何"), (r"怎麼", "如何"),
                  (r"哪裡", "何處"), (r"是誰", "是哪位"), (r"哪一年", "何年"), (r"什麼", "甚麼"), (r"多少", "幾多")]
# Taiwan punctuation and units (t2s keeps them): 「」 quotes, 公尺 / 公分 / 公釐 for 米 / 厘米 / 毫米.
TAIWAN_FORMS = [("“", "「"), ("”", "」"), ("‘", "『"), ("’", "』"), (r"平方米", "平方公尺"), (r"立方米", "立方公尺"),
                (r"[釐厘]米", "公分"), (r"毫米", "公釐"), (r"千米", "公里"), (r"(?<=[\d多餘幾十百千萬])米", "公尺")]


def taiwan_terms(text: str) -> str:
    """Replace the mainland terms left after s2twp by Taiwan ones (longest first)."""
    for k in sorted(TAIWAN_TERMS, key=len, reverse=True):
        if k != TAIWAN_TERMS[k]:
            text = text.replace(k, TAIWAN_TERMS[k])
    for pattern, repl in TAIWAN_FORMS:
        text = re.sub(pattern, repl, text)
    return text


def merge_long(articles: list[dict], rng: random.Random, low: int = 600, high: int = 1200) -> list[list[int]]:
    """Groups of paragraphs merged into long ones: each paragraph (seeded order) takes its nearest unused
    neighbours by char-bigram TF-IDF cosine until the group reaches `low` characters, never above `high`."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True).fit_transform([a["body"] for a in articles])
    sim = (x @ x.T).toarray()
    np.fill_diagonal(sim, -1)
    used, groups = set(), []
    order = list(range(len(articles)))
    rng.shuffle(order)
    for i in order:
        if i in used:
            continue
        group, size = [i], len(articles[i]["body"])
        used.add(i)
        for j in np.argsort(-sim[i]):
            if size >= low:
                break
            j = int(j)
            if j not in used and size + len(articles[j]["body"]) <= high:
                group.append(j)
                used.add(j)
                size += len(articles[j]["body"])
        groups.append(group)
    return groups


def cmrc_tw_long(articles: list[dict], questions: list[dict], rng: random.Random
                 ) -> tuple[list[dict], list[dict], list[str]]:
    """CMRC trial as long Taiwan-script encyclopedia paragraphs with Taiwan-worded questions (ids cmrctwlong-N),
    and the merged bodies' Simplified originals."""
    import opencc

    cc = opencc.OpenCC("s2twp")
    tw = lambda t: taiwan_terms(cc.convert(t))  # noqa: E731
    merged, new_id, originals = [], {}, []
    for k, group in enumerate(merge_long(articles, rng)):
        aid = f"cmrctwlong-{k}"
        members = [articles[i] for i in group]
        for m in members:
            new_id[m["id"]] = aid
        originals.append("".join(m["body"] for m in members))
        merged.append({"id": aid, "title": tw("、".join(m["title"] for m in members)), "published_at": None,
                       "source": "cmrc-tw-long", "url": None, "body": tw("".join(m["body"] for m in members))})
    qs = []
    for q in questions:
        text = tw(q["question"])
        for pattern, repl in QUESTION_SHIFT:
            if re.search(pattern, text) and rng.random() < 0.6:
                text = re.sub(pattern, repl, text, count=1)
        qs.append({**q, "question": text, "source": "cmrc-tw-long", "gold": [new_id[g] for g in q["gold"]],
                   "type": "cmrc-tw-long"})
    return merged, number_ids(qs, "cmrc-tw-long"), originals


def changed_share(originals: list[str], converted: list[str]) -> float:
    """Share of the original Simplified characters not matched after t2s of the converted text."""
    import difflib

    import opencc

    back = opencc.OpenCC("t2s")
    total = kept = 0
    for o, c in zip(originals, converted):
        sm = difflib.SequenceMatcher(None, o, back.convert(c), autojunk=False)
        total += len(o)
        kept += sum(b.size for b in sm.get_matching_blocks())
    return 1 - kept / max(total, 1)


# ---------------------------------------------------------------- main

def passages_estimate(articles: list[dict], max_chars: int = 300) -> int:
    """Passages the index would make: a title passage per article and ceil(len/300) per paragraph."""
    return sum(1 + sum(-(-len(p) // max_chars) for p in a["body"].split("\n") if p.strip()) for a in articles)


BUILDERS = ("seed", "crud", "dxy-topic", "cmrc-trial", "cmrc-tw-long")


def report_negatives(name: str, corpus: list[dict], qs: list[dict]) -> None:
    """Checks and shares for a set with same-topic negatives: every gold and negative id in the corpus, the
    share of questions with a negative, and with a negative sharing >= half of the question's bigrams."""
    body = {a["id"]: a["body"] for a in corpus}
    assert all(g in body for q in qs for g in q["gold"] + q["negatives"]), "an id outside the corpus"
    assert not any(set(q["gold"]) & set(q["negatives"]) for q in qs)
    close = 0
    for q in qs:
        stem = bigrams(re.sub(r"^\d{1,2}月\d{1,2}日，|多少|谁|哪里|什么时候|？", "", q["question"]))
        close += any(len(stem & bigrams(body[n])) >= 0.5 * len(stem) for n in q["negatives"])
    n = max(len(qs), 1)
    print(f"{name}: {sum(bool(q['negatives']) for q in qs) / n:.1%} of questions with >= 1 same-topic negative in the "
          f"corpus; {close / n:.1%} with one holding >= half of the question's bigrams; negatives per question "
          f"{sum(len(q['negatives']) for q in qs) / n:.1f}, gold per question {sum(len(q['gold']) for q in qs) / n:.1f}, "
          f"{len({q['cluster'] for q in qs})} clusters")


def report_t2s(data: Path, originals: list[str], long: list[dict], trial_q: list[dict], long_q: list[dict]) -> None:
    """How much of cmrc-tw-long, and of the old s2twp round trip (cmrc-tw on the dev set), t2s does not undo."""
    from bench.evalsets import load_cmrc, to_taiwan

    dev, dev_q = load_cmrc(data / "cmrc2018" / "cmrc2018_dev.json")
    tw, tw_q = to_taiwan(dev, dev_q)
    print("characters differing from the original Simplified after t2s (difflib matching blocks):")
    print(f"  cmrc-tw (s2twp, dev)      passages {changed_share([a['body'] for a in dev], [a['body'] for a in tw]):.2%}"
          f"  questions {changed_share([q['question'] for q in dev_q], [q['question'] for q in tw_q]):.2%}")
    print(f"  cmrc-tw-long (trial)      passages {changed_share(originals, [a['body'] for a in long]):.2%}"
          f"  questions {changed_share([q['question'] for q in trial_q], [q['question'] for q in long_q]):.2%}")
    lengths = sorted(len(a["body"]) for a in long)
    print(f"  cmrc-tw-long: {len(long)} passages, length median {lengths[len(lengths) // 2]}, "
          f"min {lengths[0]}, max {lengths[-1]}")


def main() -> None:
    """Build the chosen sets and print their sizes."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "eval")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--crud-articles", type=int, default=3000,
                    help="crud corpus size (3,000: ~11.6k passages, ~8 min to embed at 25 passages/s)")
    ap.add_argument("--crud-clustered", type=int, default=2400, help="of which articles of kept clusters")
    ap.add_argument("--only", default=",".join(BUILDERS), help=f"comma-separated, of {', '.join(BUILDERS)}")
    args = ap.parse_args()
    import jieba

    jieba.setLogLevel(60)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    corpora: dict[str, list[dict]] = {}
    sets: dict[str, list[dict]] = {}
    data = args.shared / "data"
    rng = lambda name: random.Random(f"{args.seed}:{name}")  # noqa: E731
    if "seed" in only:
        corpora["seed"], sets["seed"] = seed_set()
    if "crud" in only:
        corpora["crud"], sets["crud"], stats = crud_set(data / "crud-news" / "crud-news-2023.jsonl", rng("crud"),
                                                             total=args.crud_articles, cluster_budget=args.crud_clustered)
        print("crud:", stats)
        report_negatives("crud", corpora["crud"], sets["crud"])
    if "dxy-topic" in only:
        corpora["dxy-topic"], sets["dxy-topic"], stats = dxy_topic_set(data / "dxy-news" / "dxy-news.jsonl", rng("dxy-topic"))
        print("dxy-topic:", stats)
        report_negatives("dxy-topic", corpora["dxy-topic"], sets["dxy-topic"])
    if "cmrc-trial" in only or "cmrc-tw-long" in only:
        trial, trial_q = cmrc_trial(data / "cmrc2018" / "cmrc2018_trial.json")
        if "cmrc-trial" in only:
            corpora["cmrc-trial"], sets["cmrc-trial"] = trial, trial_q
        if "cmrc-tw-long" in only:
            long, long_q, originals = cmrc_tw_long(trial, trial_q, rng("cmrc-tw-long"))
            corpora["cmrc-tw-long"], sets["cmrc-tw-long"] = long, long_q
            report_t2s(data, originals, long, trial_q, long_q)
    write_sets(args.out, corpora, sets)
    print("corpora (articles, passages estimate: 1 title + ceil(len/300) per paragraph):")
    for name, arts in corpora.items():
        est = passages_estimate(arts)
        print(f"  {name:14s} {len(arts):6d}  ~{est} passages")
    print("questions:")
    for name, qs in sets.items():
        types = Counter(q["type"] for q in qs)
        ans = sum(q["answerable"] for q in qs)
        print(f"  {name:14s} {len(qs):6d} ({ans} answerable)  " + ", ".join(f"{t} {c}" for t, c in sorted(types.items())))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
