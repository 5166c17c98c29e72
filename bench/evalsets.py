"""Build the evaluation sets (corpora and question files) into var/eval/, seeded and reproducible.

Usage:
    python bench/evalsets.py [--shared ../shared] [--out var/eval] [--seed 13]

Writes var/eval/corpora/<source>.jsonl (ingest format: id, title, published_at, source, url, body) for
cmrc, cmrc-tw, xwlb, dxy and xwlb2020q1, and var/eval/questions/<set>.jsonl (id, question, source,
gold, answerable, now, type) for cmrc, cmrc-tw, xwlb, dxy, lccc, offtopic and dates.

The xwlb, dxy and dates questions are cloze questions made from corpus sentences by template (no
LLM): one slot of a sentence (a number, person, place, organisation or date) is replaced by a
question word, and the clause(s) around it are kept. A question is dropped when its text, with any
filler in the slot, also occurs in an article outside its gold set (for "relative" and "pubdate":
outside its gold set on the same China day), so every kept question points at its gold articles.

The dates set is searched over xwlb2020q1 + dxy together:
    relative   "今天/昨天/前天" + question on an article of that day; now = that day 21:00 / +1 / +2 days 09:00
    pubdate    "M月D日" or "YYYY年M月D日" (the publication day) + question; now = publication + 1-30 days 21:00
    eventdate  a sentence naming an earlier absolute date (YYYY年, M月, M月D日 …), the date kept in the question
    nodate     a question without any date or time word; now = publication + 1-30 days 21:00
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for bench.retrieval_eval
CHINA = timezone(timedelta(hours=8))
KEYS = ("id", "title", "published_at", "source", "url", "body")

SENT_END = re.compile(r"[^。！？；]+[。！？；]?")
LEAD = re.compile(r"^(?:央视网消息[（(]新闻联播[）)][：:]?|#[^#]{1,30}#|【[^】]{0,30}】|[①-⑳]|\d{1,2}[、.．]|"
                  r"[（(][一二三四五六七八九十\d]{1,2}[）)]|[一二三四五六七八九十]{1,2}[、是]|\s)+")
NUMBER = re.compile(r"(?<![0-9A-Za-z.\-－_/:：点时])\d+(?:[.,]\d+)*(?:多|余)?[万亿千百]*(?:多|余)?[%％‰]?(?![0-9A-Za-z.\-－_/:：])")
NOT_COUNT = re.compile(r"^[年月日号时点分秒后世]")
DATE = re.compile(r"(?<![\d\-－—~～])(?:(\d{4})年(?:(\d{1,2})月(?:(\d{1,2})[日号])?)?|(\d{1,2})月(?:(\d{1,2})[日号])?)"
                  r"(?:上旬|中旬|下旬|初|底|末|份)?")
RELATIVE = (r"今天|今日|昨天|昨日|前天|明天|明日|今晚|昨晚|今年|去年|明年|前年|本月|上月|"
            r"本周|上周|近日|日前|当天|当日|次日|目前|近期|最近|最新|近来|此前|凌晨|上午|下午|晚间|午间|今起|同期|"
            r"前[一二两三四五六七八九十几\d]|近[一二两三四五六七八九十几\d]|[一二三四五六七八九十]{1,3}月")
REL_WORDS = re.compile(RELATIVE)
TIME_WORDS = re.compile(r"\d{1,2}[日号时]|" + RELATIVE)
RELATIVE_BEFORE = ("今年", "去年", "明年", "前年", "本月", "上月", "同年", "当年", "次年", "上年")

WH = {"number": "多少", "person": "谁", "place": "哪里", "org": "哪个机构", "when": "什么时候"}
POS_KIND = {"nr": "person", "nrfg": "person", "nrt": "person", "ns": "place", "nt": "org"}
SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
               "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤习")
STOP = set("的 了 在 是 和 与 及 或 等 也 都 将 对 为 以 从 由 被 把 向 于 中 上 下 这 那 其 之 而 并 又 就 还 已 已经 正在 "
           "我们 他们 她们 它们 我 你 他 她 它 大家 自己 表示 指出 说 称 认为 强调 介绍 据 据了解 了解 同时 此外 其中 另外 "
           "目前 今天 今年 个 一 一个 一些 这个 这些 有 没有 不 要 会 能 可以 进行 开展 相关 有关 方面 工作 一起 共同 "
           "多少 谁 哪里 哪个 机构 什么 时候 作为 通过 根据 关于 对于 以及 但 但是 因为 所以 如果 已 所 着 过 得 地 吗 呢 吧".split())
ODD_SPACE = re.compile(r"[\u4e00-\u9fff\d] | (?=[\u4e00-\u9fff\d])")
CONNECTIVES = ("同时", "此外", "另外", "而且", "并且", "但是", "以及", "另据", "据悉", "据了解", "但", "而", "并", "也", "还")
PRONOUNS = ("该", "此", "这", "那", "他", "她", "它", "其", "我", "你", "您", "对此", "上述")
DANGLING = ("后", "时", "前", "以来", "期间", "之际", "中", "宣布", "表示", "说", "称", "指出", "介绍", "通报", "获悉",
            "消息", "显示", "了解", "来说", "看来", "外", "下", "认为", "强调", "透露", "报道", "发布", "的", "和", "与", "及")
NOT_PLACE = set("两国 中欧 城市 美丽 深度 治国 大国 青春 深海 大桥 城镇 依法治国 台风 英雄 海关 爱国 日增 新春 惠及 "
                "重大意义 嘉宾 热烈祝贺 法治化 新建 蛟龙 普京 东北 长江 黄河 稳定 发展 和平 安宁".split())
ORG_END = ("部", "委", "会", "局", "院", "所", "厅", "办", "署", "组", "党", "军", "社", "台", "行", "司", "团", "校", "学",
           "中心", "组织", "政府", "中央", "联盟", "政协", "人大", "队", "站", "馆", "处", "科", "室", "机构", "集团")
BRACKETS = ("“”", "《》", "（）", "()", "‘’", "「」", "【】")


# ---------------------------------------------------------------- small helpers

def read_jsonl(path: Path) -> list[dict]:
    """All records of a JSON Lines file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write records as JSON Lines (UTF-8, no ASCII escapes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_sets(out: Path, corpora: dict[str, list[dict]], sets: dict[str, list[dict]]) -> None:
    """Each corpus to out/corpora/<name>.jsonl and each question set to out/questions/<name>.jsonl."""
    for name, arts in corpora.items():
        write_jsonl(out / "corpora" / f"{name}.jsonl", arts)
    for name, qs in sets.items():
        write_jsonl(out / "questions" / f"{name}.jsonl", qs)


def ingest(record: dict) -> dict:
    """The record reduced to the ingest keys."""
    return {k: record.get(k) for k in KEYS}


def china_time(published_at: str) -> datetime:
    """An ISO timestamp as a China-time datetime."""
    return datetime.fromisoformat(published_at).astimezone(CHINA)


def at(day: date, hour: int) -> str:
    """ISO timestamp of a China day at an hour."""
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=CHINA).isoformat()


def question(qid: str, text: str, source: str, gold: list[str], now: str | None, kind: str) -> dict:
    """A question record with the agreed keys."""
    return {"id": qid, "question": text, "source": source, "gold": gold,
            "answerable": bool(gold), "now": now, "type": kind}


def number_ids(rows: list[dict], prefix: str) -> list[dict]:
    """Give question records the ids <prefix>-q0000, <prefix>-q0001, …"""
    for i, row in enumerate(rows):
        row["id"] = f"{prefix}-q{i:04d}"
    return rows


# ---------------------------------------------------------------- corpora

def load_cmrc(path: Path) -> tuple[list[dict], list[dict]]:
    """CMRC dev contexts as articles (identical contexts merged) and every question with its context id."""
    from bench.retrieval_eval import load_squad

    articles, asked = load_squad(path, prefix="cmrc", source="cmrc")
    questions = [question("", q.text, "cmrc", [q.gold], None, "cmrc") for q in asked]
    return articles, number_ids(questions, "cmrc")


def to_taiwan(articles: list[dict], questions: list[dict]) -> tuple[list[dict], list[dict]]:
    """The CMRC set through OpenCC s2twp, with cmrctw- ids."""
    import opencc

    cc = opencc.OpenCC("s2twp")
    tw = lambda i: i.replace("cmrc-", "cmrctw-", 1)  # noqa: E731
    arts = [{**a, "id": tw(a["id"]), "title": cc.convert(a["title"]), "source": "cmrc-tw",
             "body": cc.convert(a["body"])} for a in articles]
    qs = [{**q, "question": cc.convert(q["question"]), "source": "cmrc-tw", "gold": [tw(g) for g in q["gold"]]}
          for q in questions]
    return arts, number_ids(qs, "cmrc-tw")


def sample_xwlb(folder: Path, n: int, rng: random.Random) -> list[dict]:
    """A seeded sample of n items of xwlb 2019 and 2021, in time order."""
    items = read_jsonl(folder / "xwlb-2019.jsonl") + read_jsonl(folder / "xwlb-2021.jsonl")
    items.sort(key=lambda r: (r["published_at"], r["id"]))
    picked = rng.sample(items, n)
    return [ingest(r) for r in sorted(picked, key=lambda r: (r["published_at"], r["id"]))]


def xwlb_q1(folder: Path) -> list[dict]:
    """xwlb-2020 items published 2020-01-01 … 2020-03-31, China time."""
    items = [r for r in read_jsonl(folder / "xwlb-2020.jsonl")
             if date(2020, 1, 1) <= china_time(r["published_at"]).date() <= date(2020, 3, 31)]
    return [ingest(r) for r in sorted(items, key=lambda r: (r["published_at"], r["id"]))]


# ---------------------------------------------------------------- text search (ambiguity check)

def text_index(articles: list[dict]) -> dict:
    """All bodies joined, with each article's start offset, for regex look-ups."""
    starts, parts, pos = [], [], 0
    for a in articles:
        starts.append(pos)
        parts.append(a["body"])
        pos += len(a["body"]) + 1
    return {"text": "\x00".join(parts), "starts": starts, "ids": [a["id"] for a in articles]}


def matching_ids(pattern: re.Pattern, index: dict) -> set[str]:
    """Ids of the articles whose body matches the pattern."""
    found = set()
    for m in pattern.finditer(index["text"]):
        found.add(index["ids"][bisect.bisect_right(index["starts"], m.start()) - 1])
    return found


def stem_pattern(left: str, right: str) -> re.Pattern:
    """Regex for the question's text with any short filler in the slot."""
    if left and right:
        return re.compile(re.escape(left) + r"[^，。！？；\n\x00]{1,15}?" + re.escape(right))
    return re.compile(re.escape(left or right))


# ---------------------------------------------------------------- cloze questions

def sentences(body: str) -> list[str]:
    """The body's sentences of 15-80 characters, lead-ins removed, mostly Chinese, without odd spacing or #tags."""
    out = []
    for para in body.split("\n"):
        for s in SENT_END.findall(para):
            s = LEAD.sub("", s.strip()).rstrip("。！？；").strip()
            latin = sum(c.isascii() and c.isalpha() for c in s)
            if 15 <= len(s) <= 80 and latin <= len(s) * 0.2 and "#" not in s and not ODD_SPACE.search(s):
                out.append(s)
    return out


def glued(flag: str) -> bool:
    """True for a jieba tag that would fuse with a neighbouring name (nouns, abbreviations, idioms …)."""
    return flag[0] == "n" or flag in ("j", "b", "l", "i", "vn", "an", "eng", "m")


def name_ok(word: str, kind: str) -> bool:
    """Filter jieba's noisy name tags: a rare surname-first person, an unlisted place, an org with an org suffix."""
    import jieba

    if not 2 <= len(word) <= 10 or any(c.isdigit() for c in word):
        return False
    if kind == "person":
        freq = jieba.dt.FREQ.get(word) or 0
        return len(word) <= 4 and freq < 50 and (word[0] in SURNAMES or "·" in word)
    if kind == "place":
        return word not in NOT_PLACE and not re.fullmatch(r"中.|.中|[两三四五六七八九十多大各]国", word) or word == "中国"
    return word.endswith(ORG_END)


def quoted(sentence: str, start: int, end: int) -> bool:
    """True when the span is inside a title or quotes, or right inside brackets (a name, not a slot to ask)."""
    before = sentence[:start]
    inside = any(before.count(a) > before.count(b) for a, b in (("《", "》"), ("“", "”"), ("「", "」")))
    return inside or sentence[start - 1:start] in tuple("‘（(\"") or sentence[end:end + 1] in tuple("’）)\"")


def slots(sentence: str, when: bool = True) -> list[tuple[int, int, str]]:
    """Candidate answer spans (start, end, kind): numbers, dates, and jieba persons/places/organisations."""
    import jieba.posseg

    spans = []
    dates = [(m.start(), m.end()) for m in DATE.finditer(sentence)]
    if when:
        spans += [(s, e, "when") for s, e in dates if "月" in sentence[s:e] and not sentence[e:e + 1].isdigit()]
    for m in NUMBER.finditer(sentence):
        overlaps = any(s < m.end() and m.start() < e for s, e in dates)
        if not overlaps and not NOT_COUNT.match(sentence[m.end():]):
            spans.append((m.start(), m.end(), "number"))
    spans = [sp for sp in spans if not quoted(sentence, sp[0], sp[1])]
    toks = [(t.word, t.flag) for t in jieba.posseg.cut(sentence)]
    pos = 0
    for i, (word, flag) in enumerate(toks):
        kind = POS_KIND.get(flag)
        alone = (i == 0 or not glued(toks[i - 1][1])) and (i == len(toks) - 1 or not glued(toks[i + 1][1]))
        after_de = kind == "place" and i > 0 and toks[i - 1][0] == "的"
        if kind and alone and not after_de and name_ok(word, kind):
            if not quoted(sentence, pos, pos + len(word)):
                spans.append((pos, pos + len(word), kind))
        pos += len(word)
    return spans


def balanced(text: str) -> bool:
    """True when every bracket and quote pair is closed in the text."""
    return all(text.count(a) == text.count(b) for a, b in BRACKETS) and text.count('"') % 2 == 0


def content_ok(text: str) -> bool:
    """At least 2 content words and a verb, and stop words not the majority."""
    import jieba.posseg

    toks = [t for t in jieba.posseg.cut(text) if t.word.strip() and not re.fullmatch(r"[\W_]+", t.word)]
    stops = sum(t.word in STOP for t in toks)
    content = sum(t.word not in STOP and (len(t.word) >= 2 or t.word.isascii()) for t in toks)
    verb = any(t.flag.startswith("v") and t.flag != "vn" and t.word not in ("例", "名", "人") for t in toks)
    return content >= 2 and verb and stops * 2 <= len(toks)


def clause_cuts(sentence: str) -> list[int]:
    """Positions of the clause commas (，, or an ASCII comma not inside a number)."""
    return [i for i, c in enumerate(sentence)
            if c == "，" or (c == "," and not (sentence[i - 1:i].isdigit() and sentence[i + 1:i + 2].isdigit()))]


def clause_window(sentence: str, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Character range of the clauses covering the spans, widened to at least 8 characters."""
    cuts = [0] + [i + 1 for i in clause_cuts(sentence)] + [len(sentence) + 1]
    bounds = [(cuts[i], cuts[i + 1] - 1) for i in range(len(cuts) - 1)]
    first = min(i for i, (s, e) in enumerate(bounds) if any(s <= a < e + 1 for a, _ in spans))
    last = max(i for i, (s, e) in enumerate(bounds) if any(s < b <= e for _, b in spans))
    if last < first:
        return None
    while bounds[last][1] - bounds[first][0] < 8:
        if first > 0:
            first -= 1
        elif last < len(bounds) - 1:
            last += 1
        else:
            break
    return bounds[first][0], bounds[last][1]


def reads_well(text: str, left: str, right: str, own: str, dated: bool) -> bool:
    """Template checks: length, a slot clause of its own, closed brackets, no list, pronoun or dangling end."""
    last = re.split(r"[，,]", text)[-1]
    return (8 <= len(text) + 1 <= 40 and len(own.strip()) >= 4 and balanced(text) and len(NUMBER.findall(text)) < 3
            and not text.startswith(PRONOUNS) and not right.endswith(DANGLING)
            and not (left.endswith(("截至", "截止", "至", "从", "自", "到", "于")) and not right)
            and not (dated and DATE.fullmatch(last.removeprefix("截至").removeprefix("截止")))
            and content_ok(left + right))


def cloze(sentence: str, slot: tuple[int, int, str], keep: tuple[int, int] | None = None) -> dict | None:
    """One question from a sentence and a slot (and a span that must stay), or None if it reads badly."""
    start, end, kind = slot
    window = clause_window(sentence, [(start, end)] + ([keep] if keep else []))
    if window is None:
        return None
    ws, we = window
    left = sentence[ws:start].lstrip("，,、：:").strip()
    while left.startswith(CONNECTIVES):
        left = left[len(next(c for c in CONNECTIVES if left.startswith(c))):].lstrip("，,、")
    right = sentence[end:we].rstrip("，,、：:；").strip()
    text = left + WH[kind] + right
    own = re.split(r"[，,]", sentence[ws:start])[-1] + re.split(r"[，,]", sentence[end:we])[0]
    if not reads_well(text, left, right, own, keep is not None):
        return None
    return {"text": text + "？", "pattern": stem_pattern(left, right), "kind": kind}


def pick_slots(cands: list[tuple[int, int, str]], rng: random.Random) -> list[tuple[int, int, str]]:
    """Up to 4 slots to try: kinds in random order, one random span of each (so places do not dominate)."""
    by_kind = defaultdict(list)
    for sl in cands:
        by_kind[sl[2]].append(sl)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    return [rng.choice(by_kind[k]) for k in kinds][:4]


def article_questions(article: dict, rng: random.Random, index: dict, allowed: set[str], ok_ids=None,
                      when: bool = True, sentence_ok=None, keep_of=None) -> dict | None:
    """The first good cloze question of an article: sentences and slots tried in seeded order.

    allowed: article ids the question may match; ok_ids: if given, a predicate on other matched ids
    that makes them harmless (e.g. published on another day); sentence_ok: filter on sentences;
    keep_of: a sentence's span that the question must keep (and that is not a slot), or None to skip.
    """
    sents = sentences(article["body"])
    rng.shuffle(sents)
    for s in sents:
        if sentence_ok and not sentence_ok(s):
            continue
        keep = keep_of(s) if keep_of else None
        if keep_of and keep is None:
            continue
        for sl in pick_slots([sl for sl in slots(s, when) if not keep or sl[1] <= keep[0] or sl[0] >= keep[1]], rng):
            q = cloze(s, sl, keep)
            if q is None:
                continue
            others = matching_ids(q["pattern"], index) - allowed
            if ok_ids:
                others = {i for i in others if not ok_ids(i)}
            if not others:
                return q
    return None


def cloze_set(articles: list[dict], n: int, rng: random.Random, source: str) -> list[dict]:
    """About n cloze questions from a corpus, at most one per article."""
    index = text_index(articles)
    order = sorted(articles, key=lambda a: a["id"])
    rng.shuffle(order)
    out, seen = [], set()
    for a in order:
        if len(out) >= n:
            break
        q = article_questions(a, rng, index, {a["id"]})
        if q and q["text"] not in seen:
            seen.add(q["text"])
            out.append(question("", q["text"], source, [a["id"]], None, f"cloze-{q['kind']}"))
    return number_ids(out, source)


# ---------------------------------------------------------------- date questions

def named_period(m: re.Match, published: date) -> tuple[date, date] | None:
    """The China dates a DATE match names; a year-less date more than half a year ahead is read as last year's."""
    y, m1, d1, m2, d2 = m.groups()
    month, day = (int(m1) if m1 else None, int(d1) if d1 else None) if y else (int(m2), int(d2) if d2 else None)
    if (month and not 1 <= month <= 12) or (day and not 1 <= day <= 31):
        return None
    year = int(y) if y else published.year
    try:
        if month is None:
            span = (date(year, 1, 1), date(year, 12, 31))
        elif day is None:
            span = (date(year, month, 1), (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)))
        else:
            span = (date(year, month, day), date(year, month, day))
        if not y and (span[0] - published).days > 183:  # "12月" in a January article: last year
            span = (span[0].replace(year=year - 1), span[1].replace(year=year - 1))
    except ValueError:
        return None
    return span


def earlier_date(sentence: str, published: date) -> tuple[int, int] | None:
    """Span of the first absolute date phrase naming a period that ends before the publication day."""
    for m in DATE.finditer(sentence):
        if sentence[:m.start()].endswith(RELATIVE_BEFORE):
            continue
        period = named_period(m, published)
        if period and period[1] < published:
            return m.start(), m.end()
    return None


def date_sets(articles: list[dict], rng: random.Random, per_type: int) -> list[dict]:
    """relative / pubdate / eventdate / nodate questions over the given (combined) corpus."""
    index = text_index(articles)
    day_of = {a["id"]: china_time(a["published_at"]).date() for a in articles}
    twins = defaultdict(list)
    for a in articles:
        twins[(a["title"], day_of[a["id"]])].append(a["id"])
    order = sorted(articles, key=lambda a: a["id"])
    rng.shuffle(order)
    used, out = set(), []
    no_time = lambda s: not DATE.search(s) and not TIME_WORDS.search(s)  # noqa: E731
    no_relative = lambda s: not REL_WORDS.search(s)  # noqa: E731
    for kind in ("eventdate", "relative", "pubdate", "nodate"):
        count = 0
        for a in order:
            if count >= per_type:
                break
            if a["id"] in used:
                continue
            pub = china_time(a["published_at"])
            day = pub.date()
            gold = sorted(twins[(a["title"], day)])
            if kind == "eventdate":
                q = article_questions(a, rng, index, {a["id"]}, when=False, sentence_ok=no_relative,
                                      keep_of=lambda s: earlier_date(s, day))
            elif kind == "nodate":
                q = article_questions(a, rng, index, {a["id"]}, when=False, sentence_ok=no_time)
            else:
                q = article_questions(a, rng, index, set(gold), when=False, sentence_ok=no_time,
                                      ok_ids=lambda i: day_of[i] != day)
            if q is None:
                continue
            later = at(day + timedelta(days=rng.randint(1, 30)), 21)
            if kind == "relative":
                word = rng.choice(["今天", "昨天", "前天"])
                if word == "今天" and pub.hour >= 21:
                    word = "昨天"
                text, now = word + q["text"], {"今天": at(day, 21), "昨天": at(day + timedelta(days=1), 9),
                                               "前天": at(day + timedelta(days=2), 9)}[word]
            elif kind == "pubdate":
                prefix = f"{day.month}月{day.day}日" if rng.random() < 0.5 else f"{day.year}年{day.month}月{day.day}日"
                text, now = prefix + q["text"], later
            else:
                text, now, gold = q["text"], later, [a["id"]]
            used.add(a["id"])
            source = "dxy" if a["id"].startswith("dxy-") else "xwlb2020q1"
            out.append(question("", text, source, gold, now, kind))
            count += 1
    return number_ids(out, "dates")


# ---------------------------------------------------------------- unanswerable sets

def chatter(path: Path, n: int, rng: random.Random) -> list[dict]:
    """n distinct LCCC turns of 6-60 characters, seeded."""
    turns = sorted({t.strip() for d in read_jsonl(path) for t in d["turns"] if 6 <= len(t.strip()) <= 60})
    return number_ids([question("", t, "lccc", [], None, "chatter") for t in rng.sample(turns, n)], "lccc")


def offtopic(path: Path) -> list[dict]:
    """The hand-written off-topic questions, one a line."""
    lines = [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    return number_ids([question("", l, "offtopic", [], None, "offtopic") for l in lines], "offtopic")


# ---------------------------------------------------------------- main

def main() -> None:
    """Build every corpus and question set and print their sizes."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "eval")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    import jieba

    jieba.setLogLevel(60)
    data = args.shared / "data"
    rng = lambda name: random.Random(f"{args.seed}:{name}")  # noqa: E731

    cmrc, cmrc_q = load_cmrc(data / "cmrc2018" / "cmrc2018_dev.json")
    cmrc_tw, cmrc_tw_q = to_taiwan(cmrc, cmrc_q)
    xwlb = sample_xwlb(data / "xwlb", 800, rng("xwlb-sample"))
    dxy = [ingest(r) for r in read_jsonl(data / "dxy-news" / "dxy-news.jsonl")]
    q1 = xwlb_q1(data / "xwlb")
    corpora = {"cmrc": cmrc, "cmrc-tw": cmrc_tw, "xwlb": xwlb, "dxy": dxy, "xwlb2020q1": q1}
    sets = {
        "cmrc": cmrc_q,
        "cmrc-tw": cmrc_tw_q,
        "xwlb": cloze_set(xwlb, 400, rng("xwlb"), "xwlb"),
        "dxy": cloze_set(dxy, 400, rng("dxy"), "dxy"),
        "lccc": chatter(data / "lccc-toy" / "lccc-toy-dialogues.jsonl", 500, rng("lccc")),
        "offtopic": offtopic(ROOT / "bench" / "offtopic_questions.txt"),
        "dates": date_sets(q1 + dxy, rng("dates"), 150),
    }
    write_sets(args.out, corpora, sets)
    print("corpora (articles):")
    for name, arts in corpora.items():
        print(f"  {name:12s} {len(arts):6d}")
    print("questions:")
    for name, qs in sets.items():
        types = Counter(q["type"] for q in qs)
        print(f"  {name:12s} {len(qs):6d}  " + ", ".join(f"{t} {c}" for t, c in sorted(types.items())))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
