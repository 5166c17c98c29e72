"""Near-duplicate stories: detection rules, clusters stored with the index, collapsed headlines and hits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.store import duplicates
from index.store.duplicates import Doc

ROOT = Path(__file__).resolve().parents[1]
DXY = ROOT.parent / "shared" / "data" / "dxy-news" / "dxy-news.jsonl"

TJ_BODY = "至1月29日9时，天津新增{n}例新型冠状病毒感染的肺炎确诊病例，确诊病例增至{total}例。截至目前，天津市累计发现新型冠状病毒感染的肺炎病例{total}例，其中重型病例2例，治愈出院1例。"
STORIES = [
    Doc("a", "天津新增2例确诊，累计确诊27例", TJ_BODY.format(n=2, total=27), "2020-01-29T12:46:00+08:00", "天津发布"),
    Doc("b", "天津新增确诊2例，累计确诊27例", "【" + TJ_BODY.format(n=2, total=27), "2020-01-29T13:15:00+08:00", "人民日报"),
    # the next day's bulletin: the same template, other numbers
    Doc("c", "天津新增3例确诊，累计确诊30例", TJ_BODY.format(n=3, total=30), "2020-01-30T12:40:00+08:00", "天津发布"),
    # the same text two weeks later (a repeat is not the same news)
    Doc("d", "天津新增2例确诊，累计确诊27例", TJ_BODY.format(n=2, total=27), "2020-02-12T12:46:00+08:00", "天津发布"),
    # a shared template for another province
    Doc("e", "广东启动一级响应", "根据突发公共卫生事件应急预案，结合我省当前疫情防控形势，领导小组决定启动重大突发公共卫生事件一级响应。",
        "2020-01-23T20:48:00+08:00", "人民日报"),
    Doc("f", "湖南启动一级响应", "根据突发公共卫生事件应急预案，结合我省当前疫情防控形势，领导小组决定启动重大突发公共卫生事件一级响应。",
        "2020-01-23T21:00:00+08:00", "人民日报"),
    Doc("g", "天津新增2例确诊，累计确诊27例", TJ_BODY.format(n=2, total=27), None, "无日期"),
]


def test_the_same_story_from_two_outlets_is_one_cluster_and_look_alikes_are_not():
    assert duplicates.cluster(STORIES) == [["a", "b"]]  # earliest first: the first report represents it


def test_minhash_estimates_jaccard():
    a, b = duplicates.shingles(STORIES[0].text), duplicates.shingles(STORIES[2].text)
    estimate = float((duplicates.signature(a) == duplicates.signature(b)).mean())
    assert abs(estimate - duplicates.jaccard(a, b)) < 0.15


def test_collapsed_headlines_and_hits_name_the_other_sources(tmp_path):
    from index import Retriever, build_index

    rows = [{"id": d.id, "title": d.title, "body": d.text, "published_at": d.published_at, "source": d.source}
            for d in STORIES]
    seeds = tmp_path / "news.jsonl"
    seeds.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    build_index([seeds], tmp_path / "index", None, embed=False, progress=False)
    r = Retriever.load(tmp_path / "index", verify=True)  # clusters.json is in the manifest
    try:
        assert len(r.clusters) == 1
        heads = r.latest(10)
        ids = [h.article_id for h in heads]
        assert ids.count("a") + ids.count("b") == 1
        merged = next(h for h in heads if h.article_id in ("a", "b"))
        assert merged.also_reported_by == (("天津发布",) if merged.article_id == "b" else ("人民日报",))
        assert sorted(ids) == sorted([merged.article_id, "c", "e", "f"])  # d and g: exact copies of a, stored once
        result = r.search("天津 累计确诊27例 重型病例", k=9)
        aids = [h.passage.article_id for h in result.hits]
        assert not ("a" in aids and "b" in aids)
        assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
        assert any(h.also_reported_by for h in result.hits)
    finally:
        r.close()


def test_the_bot_shows_also_reported_by():
    from bot.formatting import format_hits, headline_line
    from index.schema import Headline, Hit, Passage

    h = Headline("天津新增2例", "2020-01-29T12:46:00+08:00", source="天津发布", also_reported_by=("人民日报", "<b>"))
    assert headline_line(h).endswith("（另见：人民日报、&lt;b&gt;）")
    p = Passage(0, "a", 1, "paragraph", "正文。", "天津新增2例", None, "天津发布")
    assert "另见：人民日报" in format_hits([Hit(1, 0.9, p, "正文。", also_reported_by=("人民日报",))])[0]


@pytest.mark.skipif(not DXY.is_file(), reason="../shared/data/dxy-news is absent")
def test_dxy_news_merges_cross_outlet_copies_only():
    rows = [json.loads(line) for line in DXY.open(encoding="utf-8")]
    docs = [Doc(r["id"], r["title"], r["title"] + "\n" + r["body"], r["published_at"], r.get("source")) for r in rows]
    clusters = duplicates.cluster(docs)
    merged = sum(len(c) - 1 for c in clusters)
    assert 20 <= merged <= 80  # 37 with the defaults (bench/duplicates_report.py)
    by_id = {d.id: d for d in docs}
    for c in clusters:  # same title numbers, within the window
        titles = {tuple(sorted(duplicates.NUMBER.findall(by_id[a].title.replace(" ", "")))) for a in c}
        assert len(titles) == 1, [by_id[a].title for a in c]


@pytest.mark.skipif(not DXY.is_file(), reason="needs ../shared/data/dxy-news")
@pytest.mark.parametrize(("articles", "clusters"), [(800, 5), pytest.param(None, 10, marks=pytest.mark.slow, id="all")])
def test_clusters_after_adds_equal_clusters_of_a_whole_build(tmp_path, articles, clusters):
    # The whole corpus (3,378 articles, more than 10 clusters) is the slow run; its first 800
    # articles (6 clusters), with the same checks, the default one.
    from index import add_to_index, build_index, store

    rows = [json.loads(line) for line in DXY.open(encoding="utf-8")][:articles]
    # Interleaved parts: each add brings articles of days the index already has, so copies span parts.
    parts = [rows[i::4] for i in range(4)]
    files = []
    for i, part in enumerate(parts):
        files.append(tmp_path / f"part{i}.jsonl")
        files[-1].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
    build_index(files[:1], tmp_path / "added", progress=False, embed=False)
    for f in files[1:]:
        report = add_to_index([f], tmp_path / "added", progress=False, embed=False)
        assert report.rows_written < report.passages  # appended, not rewritten
    build_index(files, tmp_path / "whole", progress=False, embed=False)
    added = duplicates.Clusters.load(store.current_version(tmp_path / "added"))
    whole = duplicates.Clusters.load(store.current_version(tmp_path / "whole"))
    assert len(whole) > clusters and added.members == whole.members


def test_copies_of_one_story_do_not_use_up_the_k_answers(tmp_path):
    from index import Retriever, build_index

    copies = [Doc(f"copy{i}", "天津新增2例确诊，累计确诊27例", ("【" * i) + TJ_BODY.format(n=2, total=27),
                  f"2020-01-29T12:{40 + i}:00+08:00", f"媒体{i}") for i in range(4)]
    stories = copies + [STORIES[2]]  # and the next day's bulletin: another story
    rows = [{"id": d.id, "title": d.title, "body": d.text, "published_at": d.published_at, "source": d.source}
            for d in stories]
    seeds = tmp_path / "news.jsonl"
    seeds.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    build_index([seeds], tmp_path / "index", None, embed=False, progress=False)
    r = Retriever.load(tmp_path / "index")
    try:
        assert len(r.clusters) == 1 and len(r.clusters.members[r.clusters.key("copy0")]) == 4
        hits = r.search("天津新增确诊病例 累计确诊 治愈出院", k=2).hits
        stories_found = {r.clusters.key(h.passage.article_id) for h in hits}
        assert len(hits) == 2 and len(stories_found) == 2  # one copy stands for the four, then the other story
        assert "c" in stories_found
    finally:
        r.close()


def test_a_large_bucket_of_templated_articles_and_of_copies():
    # Thousands of docs share LSH buckets: templated briefs of one hour ("标题{i}" / "第{i}条正文。",
    # each its own news) and 600 copies of one story. Every bucket used to be paired in full (m²/2
    # pairs, issue 23: MemoryError at 200k docs) and one over 500 members skipped, copies and all.
    templated = [Doc(f"t{i}", f"标题{i}", f"标题{i}\n第{i}条正文。", "2024-01-01T08:00:00+08:00") for i in range(1500)]
    copies = [Doc(f"c{i:03d}", "天津新增2例确诊，累计确诊27例", TJ_BODY.format(n=2, total=27),
                  f"2024-01-01T08:{i // 60:02d}:{i % 60:02d}+08:00", f"媒体{i}") for i in range(600)]
    docs = templated + copies
    pairs = duplicates.find_pairs(docs)
    assert {docs[i].id[0] for p in pairs for i in p[:2]} == {"c"}  # no templated brief pairs with anything
    assert len(copies) - 1 <= len(pairs) <= len(copies) * duplicates.NEIGHBOURS  # joined, without all m²/2
    assert duplicates.cluster(docs) == [[d.id for d in copies]]  # one story, the first report first
