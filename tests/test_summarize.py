"""Tests for bot.analysis.summarize and bot.summary_format on real Chinese dialogue (LCCC toy sample)."""

from __future__ import annotations

import html
import json
import random
import re
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from bot.chatlog import ChatMessage
from bot.config import ConfigError, load_summary_config
from bot.analysis.excerpts import featurize, pick_units, relevance
from bot.analysis.summarize_text import bigrams as bigram_set
from bot.analysis.summarize import (
    ANALYSE_CHARS,
    DUPLICATE_JACCARD,
    Excerpt,
    Summary,
    bigram_jaccard,
    summarize,
)
from bot.summary_format import MAX_MESSAGE_CHARS, format_summary, message_link

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LCCC = SHARED / "data" / "lccc-toy" / "lccc-toy-dialogues.jsonl"
CHAT = -1001234567890
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dialogues() -> list[list[str]]:
    if not LCCC.exists():
        pytest.skip(f"{LCCC} is absent (../shared not checked out)")
    with LCCC.open(encoding="utf-8") as f:
        rows = [json.loads(line)["turns"] for line in f]
    return [turns for turns in rows if 4 <= len(turns) <= 8]


def mixed_chat(dialogues: list[list[str]], k: int, seed: int) -> tuple[list[ChatMessage], dict[int, int]]:
    """Interleave k real dialogues into one group chat; return messages and message_id -> dialogue.

    The LCCC turns are real, but the corpus has no speakers or times: the senders, user ids,
    message ids and timestamps here are made up (two invented people per dialogue, a message
    a minute).
    """
    rng = random.Random(seed)
    chosen = rng.sample(dialogues, k)
    order = [d for d, turns in enumerate(chosen) for _ in turns]
    rng.shuffle(order)
    pos = [0] * k
    msgs, label = [], {}
    for mid, d in enumerate(order, start=1):
        speaker = 2 * d + pos[d] % 2
        msgs.append(
            ChatMessage(CHAT, mid, 500 + speaker, f"用户{speaker}", T0 + timedelta(minutes=mid), chosen[d][pos[d]])
        )
        label[mid] = d
        pos[d] += 1
    return msgs, label


class TestSummarize:
    def test_returns_requested_number_of_distinct_messages(self, dialogues):
        msgs, _ = mixed_chat(dialogues, 4, seed=1)
        for n in (3, 5, 7):
            s = summarize(msgs, n, min_messages=5)
            ids = [p.message.message_id for p in s.picks]
            assert len(ids) == n
            assert len(set(ids)) == n
            assert ids == sorted(ids)  # chronological
            assert all(p.message in msgs and p.whole and p.text == p.message.text for p in s.picks)

    def test_covers_more_than_one_dialogue(self, dialogues):
        for seed in range(10):
            msgs, label = mixed_chat(dialogues, 4, seed)
            s = summarize(msgs, 5, min_messages=5)
            assert len({label[p.message.message_id] for p in s.picks}) >= 2, seed

    @pytest.mark.parametrize("diversity", [0.0, 0.5])
    def test_never_picks_near_duplicates(self, dialogues, diversity):
        msgs, _ = mixed_chat(dialogues, 3, seed=7)
        # Repost every longer message verbatim and with a small change. With diversity 0 the
        # ranking is pure relevance and picks both copies of the most central messages (6
        # near-duplicate pairs without the cut), so only the hard Jaccard cut prevents it.
        extra, mid = [], len(msgs) + 1
        for m in msgs:
            if len(m.text) >= 6:
                for text in (m.text, m.text + "！！"):
                    extra.append(ChatMessage(CHAT, mid, 999, "复读机", T0 + timedelta(hours=1, minutes=mid), text))
                    mid += 1
        s = summarize(msgs + extra, 7, min_messages=5, diversity=diversity)
        assert len(s.picks) == 7
        for a, b in combinations(s.picks, 2):
            assert bigram_jaccard(a.text, b.text) < DUPLICATE_JACCARD, (a.text, b.text)

    def test_keywords_come_from_the_text(self, dialogues):
        msgs, _ = mixed_chat(dialogues, 5, seed=3)
        s = summarize(msgs, 5, min_messages=5)
        assert s.keywords
        lowered = [m.text.lower() for m in msgs]
        for kw in s.keywords:
            assert any(kw.lower() in t for t in lowered), kw
            assert re.fullmatch(r"\w+", kw), kw  # no punctuation or emoji

    def test_keywords_skip_stopwords_links_and_emoji(self):
        texts = ["哈哈哈哈 我们觉得 https://example.com/abc 😂😂", "高铁票 抢不到 😂", "高铁票 又涨价了 @someone"]
        msgs = [ChatMessage(CHAT, i, i, "x", T0, t) for i, t in enumerate(texts * 4)]
        kws = summarize(msgs, 3, min_messages=1).keywords
        assert "高铁票" in kws or "高铁" in kws
        for bad in ("哈哈哈哈", "我们", "觉得", "https", "example", "com", "someone", "😂"):
            assert bad not in kws

    def test_counts_participants_and_messages(self, dialogues):
        msgs, _ = mixed_chat(dialogues, 3, seed=2)
        s = summarize(msgs, 5, min_messages=5)
        assert s.messages_read == len(msgs)
        assert s.participants == len({m.user_id for m in msgs})
        assert s.first_time == msgs[0].time and s.last_time == msgs[-1].time

    def test_too_few_messages(self, dialogues):
        msgs, _ = mixed_chat(dialogues, 1, seed=0)
        s = summarize(msgs, 5, min_messages=20)
        assert s.too_few and not s.picks and s.messages_read == len(msgs)
        text = format_summary(s, chat_id=CHAT)
        assert "\n" not in text and str(len(msgs)) in text and "20" in text

    def test_commands_are_not_quoted(self):
        msgs = [ChatMessage(CHAT, 1, 1, "a", T0, "/summary 500 请总结一下最近的讨论内容")]
        msgs += [ChatMessage(CHAT, i, i, "b", T0, f"第{i}条关于高铁票价上涨的讨论") for i in range(2, 8)]
        s = summarize(msgs, 5, min_messages=1)
        assert all(not m.text.startswith("/") for m in s.picks)

    def test_related_news_capped_deduped_and_errors_ignored(self, dialogues):
        msgs, _ = mixed_chat(dialogues, 3, seed=4)
        queries = []

        def related(keywords):
            queries.append(keywords)
            return ["新闻一", "新闻一", "新闻二", "新闻三", "新闻四"]

        s = summarize(msgs, 5, min_messages=5, related=related)
        assert s.related == ["新闻一", "新闻二", "新闻三"]
        assert queries == [s.keywords]  # one search, of the keyword list

        def broken(keywords):
            raise RuntimeError("index not built")

        assert summarize(msgs, 5, min_messages=5, related=broken).related == []

    def test_reply_threads_spread_the_picks(self):
        # Two threads by reply_to, texts with nothing in common: picks must come from both.
        thread_a = [
            ChatMessage(CHAT, i, 1, "甲", T0, f"明天早上八点的高铁票第{i}次没抢到", reply_to=1 if i > 1 else None)
            for i in range(1, 6)
        ]
        thread_b = [ChatMessage(CHAT, 10, 2, "乙", T0, "周末去爬山吗天气应该很好")] + [
            ChatMessage(CHAT, 10 + i, 3, "丙", T0, t, reply_to=10)
            for i, t in enumerate(["可以啊几点出发", "带点水果和零食", "我开车去接你们"], start=1)
        ]
        s = summarize(thread_a + thread_b, 2, min_messages=1)
        assert {p.message.sender for p in s.picks} & {"乙", "丙"}


class TestMessageLink:
    def test_supergroup(self):
        assert message_link(-1001234567890, 42) == "https://t.me/c/1234567890/42"

    def test_public_username(self):
        assert message_link(-1001234567890, 42, "newsfans") == "https://t.me/newsfans/42"

    def test_basic_group_has_no_link(self):
        assert message_link(-4567, 42) is None


class TestFormatSummary:
    def test_escapes_user_text_and_links_messages(self):
        msgs = [
            ChatMessage(CHAT, i, i, "<b>坏人</b>&", T0, f"高铁票<script>{i}</script> 又涨价了 {'a' * i}")
            for i in range(1, 12)
        ]
        s = summarize(msgs, 3, min_messages=5, related=lambda q: ["<i>标题</i>"])
        text = format_summary(s, chat_id=CHAT, window_label="最近 <1> 条")
        assert "<script>" not in text and "<i>标题</i>" not in text and "<b>坏人</b>" not in text
        assert html.escape("<b>坏人</b>&") in text
        assert 'href="https://t.me/c/1234567890/' in text
        assert "11 条消息" in text

    def test_bidi_and_control_characters_are_stripped(self):
        # A right-to-left override in a name would reverse the rest of the line in clients.
        evil = "\u202e\u2066坏\u200f人\x07"
        msgs = [ChatMessage(CHAT, i, i, evil, T0, f"高铁票\u202e又涨价了\u2067第{i}次") for i in range(1, 12)]
        s = summarize(msgs, 3, min_messages=5, related=lambda q: ["标题\u202e反转"])
        text = format_summary(s, chat_id=CHAT)
        for ch in "\u202e\u2066\u2067\u200f\x07":
            assert ch not in text
        assert "<b>坏人</b>" in text and "高铁票又涨价了" in text and "标题反转" in text

    def test_fits_telegram_limit(self):
        long = "这是一段很长的讨论" * 300
        msgs = [ChatMessage(CHAT, i, i, "名" * 200, T0, f"{i}{long}{i}") for i in range(1, 10)]
        s = Summary(["关键词"] * 8, [Excerpt(m, m.text, True) for m in msgs], 9, 9, ["新闻" * 100] * 3, T0, T0)
        assert len(format_summary(s, chat_id=CHAT)) <= MAX_MESSAGE_CHARS


# -- issue 13: a floor in content, a budget in characters, sentence excerpts ---------------------

VCSUM = SHARED / "data" / "vcsum-dev" / "vcsum-short-dev.jsonl"


@pytest.fixture(scope="module")
def meetings() -> list[dict]:
    if not VCSUM.exists():
        pytest.skip(f"{VCSUM} is absent (../shared not checked out)")
    with VCSUM.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def meeting_chat(segment: dict) -> list[ChatMessage]:
    """A VCSum segment's real turns as group messages (speakers as senders, made-up times)."""
    return [
        ChatMessage(CHAT, i, 100 + t["speaker"], f"发言人{t['speaker']}", T0 + timedelta(minutes=i), t["text"])
        for i, t in enumerate(segment["turns"], start=1)
    ]


class TestFloorAndBudget:
    def test_few_long_messages_are_summarized(self, meetings):
        # The old floor counted messages: segments of 3-9 long turns got "too few".
        few = [s for s in meetings if len(s["turns"]) < 10]
        assert few
        for segment in few:
            s = summarize(meeting_chat(segment))
            assert not s.too_few and s.picks, segment["id"]

    def test_little_text_is_too_few_and_says_how_much(self):
        msgs = [ChatMessage(CHAT, i, i, "x", T0, t) for i, t in enumerate(["今晚吃什么", "火锅吧！", "好"], 1)]
        s = summarize(msgs)
        assert s.too_few and not s.picks
        assert (s.messages_read, s.chars_read, s.min_chars, s.min_messages) == (3, 9, 300, 10)
        assert format_summary(s, chat_id=CHAT) == "这段时间只有 3 条消息、9 字，不够总结（至少需要 300 字或 10 条消息）。"

    def test_enough_messages_pass_even_when_short(self):
        msgs = [ChatMessage(CHAT, i, i % 3, "x", T0, f"高铁票第{i}次涨价") for i in range(1, 11)]
        assert not summarize(msgs).too_few

    def test_commands_do_not_count_as_discussion(self):
        msgs = [ChatMessage(CHAT, i, i, "x", T0, "/summary " + "9" * 400) for i in range(1, 4)]
        assert summarize(msgs).too_few

    @pytest.mark.parametrize("budget", [150, 400, 800])
    def test_quotes_fit_the_budget_and_come_from_their_message(self, meetings, budget):
        for segment in meetings[:20]:
            msgs = meeting_chat(segment)
            s = summarize(msgs, 5, quote_chars=budget)
            assert 1 <= len(s.picks) <= 5
            ids = [p.message.message_id for p in s.picks]
            assert ids == sorted(set(ids))  # one quote per message, in chat order
            assert sum(len(p.text) for p in s.picks) <= max(budget, min(len(p.text) for p in s.picks))
            for p in s.picks:
                assert p.text in p.message.text  # a quote is a verbatim piece of its own message
                assert p.whole == (p.text == p.message.text.strip())

    def test_long_messages_are_quoted_by_a_sentence_short_ones_whole(self):
        long = "会议先回顾了上季度的销售数据。华东区的销售额增长了百分之二十，主要来自新开的门店。" * 3 + "然后就是说这个那个对吧。"
        msgs = [ChatMessage(CHAT, 1, 1, "甲", T0, long)] + [
            ChatMessage(CHAT, i, 2, "乙", T0, f"华东区新门店的销售额第{i}周又增长了") for i in range(2, 12)
        ]
        s = summarize(msgs, 5)
        first = [p for p in s.picks if p.message.message_id == 1]
        assert first and not first[0].whole and len(first[0].text) < len(long)
        assert first[0].text.endswith("。") and "对吧" not in first[0].text
        assert all(p.whole for p in s.picks if p.message.message_id != 1)

    def test_filler_loses_to_content(self):
        # Same topic words, one sentence padded with spoken filler: the plain one is quoted.
        filler = "然后就是说这个销售额对吧，那个就是说门店嗯然后就是这样子对吧。"
        plain = "华东区的销售额增长了百分之二十，主要来自新开的门店。"
        msgs = [ChatMessage(CHAT, 1, 1, "甲", T0, (filler + plain) * 2 + filler)] + [
            ChatMessage(CHAT, i, 2, "乙", T0, f"销售额和门店的数据第{i}次更新") for i in range(2, 12)
        ]
        [first] = [p for p in summarize(msgs, 5).picks if p.message.message_id == 1] or [None]
        assert first is not None and first.text == plain

    def test_a_huge_window_reads_each_message_in_part(self, meetings):
        turns = [t["text"] for s in meetings for t in s["turns"]]
        stream = "".join(turns) * 2  # the dev split holds ~350,000 characters
        texts = [stream[i * 1000 : (i + 1) * 1000] for i in range(400)]  # 400,000 characters
        msgs = [ChatMessage(CHAT, i, i % 5, f"用户{i % 5}", T0, t) for i, t in enumerate(texts, 1)]
        s = summarize(msgs, 5)
        assert len(s.picks) == 5 and s.keywords
        for p in s.picks:
            # Past ANALYSE_CHARS only the start of each message is read (and so quoted).
            assert p.text in p.message.text[: max(100, ANALYSE_CHARS // len(msgs))]


class TestExcerptsInternals:
    def test_vectorized_bigrams_match_the_set_definition(self):
        texts = ["高铁票又涨价了", "好", "", "ab cd", "哈哈😂 https://x.com @bob 高铁", "的的的是"]
        f = featurize(texts)
        expected = [bigram_set(t) for t in texts]
        got = [int(n) for n in np.asarray(f.grams.sum(axis=1)).ravel()]
        assert got == [len(e) for e in expected]
        overlaps = (f.grams @ f.grams.T).toarray()
        for i, j in combinations(range(len(texts)), 2):
            assert overlaps[i, j] == len(expected[i] & expected[j]), (texts[i], texts[j])

    def test_lexrank_ranks_the_sentence_linking_the_others_first(self):
        texts = ["高铁票价上涨", "高铁票价上涨引发讨论，机票价格也在上涨", "机票价格也在上涨", "今天天气很好"]
        m = featurize(texts).tfidf
        for method in ("centroid", "lexrank"):
            assert int(np.argmax(relevance(m, method))) == 1, method

    def test_pick_units_keeps_the_budget_and_cuts_near_copies(self):
        texts = ["高铁票价上涨引发讨论", "高铁票价上涨引发讨论！", "机票价格也在上涨", "周末一起去爬山吧"]
        f = featurize(texts)
        lengths = np.array([len(t) for t in texts])
        picked = pick_units(f, np.array([1.0, 0.99, 0.5, 0.2]), lengths, np.arange(4), 25, diversity=0.0)
        assert picked[0] == 0 and 1 not in picked  # a near copy of the first pick never follows it
        assert lengths[picked].sum() <= 25


class TestSummaryConfig:
    @pytest.mark.parametrize("table", [{"quote_chars": 10}, {"min_chars": -1}, {"cooldown_seconds": -5}])
    def test_bad_values_are_refused(self, table):
        with pytest.raises(ConfigError):
            load_summary_config(table)

    def test_config_toml_defaults_load(self):
        import tomllib

        root = Path(__file__).resolve().parents[1]
        s = load_summary_config(tomllib.loads((root / "config.toml").read_text(encoding="utf-8"))["summary"])
        assert (s.min_chars, s.quote_chars) == (300, 400) and s.cooldown_seconds > 0
