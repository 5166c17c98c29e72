"""The seed parser on the real seed page, JSONL and text files, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.ingest.clean import clean_text, count_pinyin, strip_pinyin
from index.ingest.seeds import detect_format, read_seed_file

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_eb63601c10643f4d.txt"


@pytest.fixture(scope="module")
def seed():
    return read_seed_file(SEED)


def test_seed_article(seed):
    assert seed.format == "page"
    assert len(seed.articles) == 1
    a = seed.articles[0]
    assert a.title == "【央视快评】筑牢基层社区疫情防控的严密防线"
    assert a.published_at == "2020-02-09T23:26:08+08:00"
    assert len(a.paragraphs) == 6
    # The first paragraph shares its line with the 最后更新 time.
    assert a.paragraphs[0].startswith("新冠肺炎疫情发生以来,习近平总书记作出一系列重要指示")
    assert a.paragraphs[-1].endswith("筑牢保护城乡居民健康安全的坚实屏障。")
    # Original title and editor are metadata, not body.
    assert a.meta == {"original_title": "【央视快评】筑牢基层社区疫情防控的严密防线", "editor": "黄涛"}
    assert not any("责任编辑" in p or "原标题" in p for p in a.paragraphs)
    assert a.source == "观察者网 guancha.cn"  # from the sidecar seeds/…meta.json


def test_seed_headline_list(seed):
    dated = [h for h in seed.headlines if h.published_at]
    assert len(dated) == 20
    assert dated[0].title == "陈焕春:新型冠状病毒属于SARS病毒系口误"
    assert dated[0].published_at == "2020-02-09T23:16:00+08:00" and dated[0].tag is None
    second = dated[1]
    assert second.title == clean_text("湖北省委書記:確保所有在家未收治患者人數(shù)清零")
    assert second.title == "湖北省委书记:确保所有在家未收治患者人数清零"
    assert (second.published_at, second.tag) == ("2020-02-09T23:11:00+08:00", "新冠肺炎抗疫战")
    assert dated[5].tag == "中国红会"
    assert dated[-1].title == "发改委:发挥政府储备作用,支持应对疫情紧缺物资增产增供"
    # Listed in page order, which is newest first.
    assert [h.published_at for h in dated] == sorted((h.published_at for h in dated), reverse=True)


def test_seed_related_and_hot_lists(seed):
    undated = [h.title for h in seed.headlines if not h.published_at]
    assert undated[0] == "被当面打脸,日铁急了"
    assert undated[1] == "“中国在非洲真正赢得了民心,就连斯威士兰…”"
    assert "“沙特曾多次警告德国提防嫌疑人”" in undated
    assert undated[-1] == "泽连斯基骂普京“傻子”,俄方怒斥"
    assert not any("评论" in t or "Hot" in t for t in undated)
    assert seed.unused["comment counts"] == 2
    assert seed.unused["section markers"] == 2  # 相关推荐, 最新闻 Hot
    assert seed.unused["separator lines"] > 0


def test_no_pinyin_left(seed):
    raw = SEED.read_text(encoding="utf-8")
    assert count_pinyin(raw) > 100
    a = seed.articles[0]
    texts = [a.title, *a.paragraphs, *a.meta.values(), *(h.title for h in seed.headlines), *(h.tag or "" for h in seed.headlines)]
    for t in texts:
        assert count_pinyin(t) == 0, t
        assert "(" not in t or "SARS" in t, t


def test_strip_pinyin_keeps_real_brackets():
    assert strip_pinyin("社區(qū)") == "社區"
    assert clean_text("社區(qū)") == "社区"
    assert clean_text("發(fā)生") == "发生"
    assert strip_pinyin("新冠肺炎(COVID-19)疫情(2020)") == "新冠肺炎(COVID-19)疫情(2020)"
    assert strip_pinyin("世卫(who)") == "世卫(who)"  # not a pinyin syllable


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_and_bad_lines(tmp_path):
    good = {"id": "a1", "title": "測試標題", "published_at": "2020-01-01T19:00:00+08:00", "source": "央视网",
            "url": "https://example.org/a1", "body": "第一段。\n第二段。"}
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps({**good, "id": "a2", "body": ""}),
             "", json.dumps([1, 2]), json.dumps({**good, "id": "a3", "published_at": "2020-02-01 08:00"})]
    batch = read_seed_file(_write(tmp_path / "x.jsonl", "\n".join(lines)))
    assert batch.format == "jsonl"
    assert [a.id for a in batch.articles] == ["a1", "a3"]
    a = batch.articles[0]
    assert (a.title, a.paragraphs, a.source, a.url) == ("测试标题", ["第一段。", "第二段。"], "央视网", "https://example.org/a1")
    assert batch.articles[1].published_at == "2020-02-01T08:00:00+08:00"  # no zone: China time
    reasons = {str(s).split(": ", 1)[0].rsplit(":", 1)[1]: s.reason for s in batch.skipped}
    assert reasons["2"].startswith("malformed JSON")
    assert reasons["3"] == "no body"
    assert reasons["5"] == "not a JSON object"


# Issue 23: each of these ended the whole build in a traceback (so the bot did not start).
BAD_LINES = {
    "epoch published_at": ('{"id": "b1", "title": "标题", "body": "正文。", "published_at": 1700000000}',
                           "published_at is not a date string (int)"),
    "surrogate in body": ('{"id": "b2", "title": "标题", "body": "正\\ud800文。"}', "body holds a lone surrogate"),
    "surrogate in title": ('{"id": "b3", "title": "\\udfff", "body": "正文。"}', "title holds a lone surrogate"),
    "surrogate in id": ('{"id": "\\ud800", "title": "标题", "body": "正文。"}', "id holds a lone surrogate"),
    "100k nested [": ("[" * 100_000, "nested too deeply"),
    "5,000-digit number": ('{"id": ' + "9" * 5000 + ', "title": "标题", "body": "正文。"}', "malformed JSON"),
}


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_a_malformed_jsonl_line_is_reported_and_the_rest_is_read(tmp_path, name):
    line, reason = BAD_LINES[name]
    good = [json.dumps({"id": f"g{i}", "title": "好标题", "body": f"第{i}段。"}, ensure_ascii=False) for i in (1, 2)]
    path = _write(tmp_path / "x.jsonl", "\n".join([good[0], line, good[1]]))
    batch = read_seed_file(path)
    assert [a.id for a in batch.articles] == ["g1", "g2"]
    assert [s.origin for s in batch.skipped] == [f"{path}:2"]
    assert reason in batch.skipped[0].reason and len(str(batch.skipped[0])) < len(str(path)) + 100


def test_a_build_reports_malformed_lines_and_indexes_the_rest(tmp_path):
    from index import build_index

    good = [json.dumps({"id": f"g{i}", "title": "好标题", "body": f"第{i}段。"}, ensure_ascii=False) for i in (1, 2)]
    path = _write(tmp_path / "x.jsonl", "\n".join([good[0], *(line for line, _ in BAD_LINES.values()), good[1]]))
    report = build_index([path], tmp_path / "index", embed=False, progress=False)
    assert report.articles == 2 and len(report.skipped) == len(BAD_LINES)


def test_lone_surrogates_from_feeds_and_text_become_replacement_characters():
    from index.ingest.pages import parse_feed

    assert clean_text("標\ud800題") == "标\ufffd题"  # OpenCC raised UnicodeEncodeError
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>台&#xD800;</title>'
           "<item><title>標&#xD800;題</title><link>http://a.example/1</link><description>正文&#55296;。"
           "</description></item></channel></rss>").encode()
    (article,) = parse_feed(rss, "http://a.example/feed")
    assert (article.title, article.paragraphs) == ("标\ufffd题", ["正文\ufffd。"])


@pytest.mark.parametrize(("text", "simplified"), [
    # 著 as the particle or verb 着 (issue 23 item 13: t2s left "随著"; the seed has 隨著 and 著力,
    # crud-news 接著, 带著, 过著, 朝著, 写著, 随著)
    ("随著返程复工", "随着返程复工"), ("隨著", "随着"), ("著力为已返岗人员", "着力为已返岗人员"),
    ("接著库尔兰", "接着库尔兰"), ("上头写著", "上头写着"), ("意味著", "意味着"), ("著手", "着手"),
    # 著 in its own words stays
    ("著名", "著名"), ("显著提升", "显著提升"), ("原著", "原著"), ("土著", "土著"), ("日本著名", "日本著名"),
    ("侵害本网站著作权", "侵害本网站著作权"), ("显著力量", "显著力量"), ("臭名昭著", "臭名昭著"), ("随著名师", "随著名师"),
])
def test_zhe_written_as_zhu_becomes_simplified(text, simplified):
    from index.ingest.clean import normalize_for_search

    assert clean_text(text) == simplified
    assert normalize_for_search(text) == normalize_for_search(simplified)


def test_the_seed_has_no_zhu_for_zhe(seed):
    body = "\n".join(seed.articles[0].paragraphs)
    assert "随着返程复工高峰的到来" in body and "着力为" in body
    assert "随著" not in body and "著力" not in body


def test_txt_and_unreadable_files(tmp_path):
    batch = read_seed_file(_write(tmp_path / "a.txt", "標題\n\n第一段。\n第二段。\n"))
    assert batch.format == "txt"
    assert (batch.articles[0].title, batch.articles[0].paragraphs) == ("标题", ["第一段。", "第二段。"])
    for name, content, reason in [
        ("latin1.txt", "标题\n正文".encode("gbk"), "not UTF-8"),
        ("empty.txt", "  \n", "empty file"),
        ("title-only.txt", "只有标题\n", "no body"),
    ]:
        batch = read_seed_file(_write(tmp_path / name, content))
        assert not batch.articles
        assert len(batch.skipped) == 1 and reason in batch.skipped[0].reason
        assert name in batch.skipped[0].origin


def test_detect_format():
    assert detect_format('{"id": 1}\n') == "jsonl"
    assert detect_format("-\n标题\n最后更新: 2020-02-09 23:26:08正文") == "page"
    assert detect_format("标题\n正文") == "txt"


def test_fetched_articles_written_as_jsonl_read_back_unchanged(tmp_path):
    """One schema: what the feed poller writes (Article.to_json) the seed reader reads back field for field."""
    from index.writer.added import write_articles
    from index.schema import Article

    written = [
        Article(id="web-1", title="国务院常务会议部署稳就业", paragraphs=["第一段。", "第二段，有引号“好”。"],
                published_at="2020-03-01T09:30:00+08:00", source="新华社", url="https://example.com/a"),
        Article(id="web-2", title="没有时间和来源的文章", paragraphs=["只有一段。"]),
    ]
    batch = read_seed_file(write_articles(tmp_path, "feed", written))
    fields = ("id", "title", "paragraphs", "published_at", "source", "url")
    assert [tuple(getattr(a, f) for f in fields) for a in batch.articles] == \
        [tuple(getattr(a, f) for f in fields) for a in written]
    assert not batch.skipped


def test_publication_times_from_feeds_and_files_read_alike():
    """One parser for every publication time: RFC 822 (feeds), ISO with or without zone (files), in China time."""
    from index.chinatime import parse_published

    assert parse_published("Sun, 01 Mar 2020 01:30:00 GMT") == "2020-03-01T09:30:00+08:00"
    assert parse_published("2020-03-01T01:30:00Z") == "2020-03-01T09:30:00+08:00"
    assert parse_published("2020/03/01 09:30") == "2020-03-01T09:30:00+08:00"
    assert parse_published("昨天") is None and parse_published("") is None
