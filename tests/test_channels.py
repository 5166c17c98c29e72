"""Channels as sources: posts of listed channels are indexed at once, edits replace them, others are ignored."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from telegram import Chat, MessageEntity

from bot import channels
from bot.newsindex import NewsIndex
from bot.config import ChannelsConfig, ConfigError, load_channels_config
from index import IndexConfig, Retriever, add_articles, build_index, store
from tests.fakebotapi import parse_html
from tests.helpers import feed, one_article_index, started

CHANNEL = {"id": -1001234567890, "type": "channel", "title": "江城新闻频道", "username": "jiangcheng_news"}
PRIVATE_CHANNEL = {"id": -1009876543210, "type": "channel", "title": "内部频道"}
UNLISTED = {"id": -1005555555555, "type": "channel", "title": "别的频道", "username": "other_news"}
ADMIN = {"id": 4242, "is_bot": False, "first_name": "Admin"}
ADMIN_CHAT = {"id": 4242, "type": "private", "first_name": "Admin"}
SEED = {"id": "seed1", "title": "种子新闻标题", "published_at": "2020-02-09T10:00:00+08:00", "source": "种子社",
        "body": "这是一篇种子新闻的第一段。\n种子新闻的第二段。"}
POST_TITLE = "长江大桥今日通车"
POST = POST_TITLE + "\n全长十公里的长江大桥今天正式通车，预计每天通行车辆五万辆。"
EDITED = POST_TITLE + "\n全长十二公里的长江大桥今天正式通车，预计每天通行车辆八万辆。"


@pytest.fixture
def index_dir(tmp_path):
    """A tiny lexical-only index of one seed article."""
    return one_article_index(tmp_path, SEED)


@pytest.fixture
async def channel_bot(make_bot, index_dir):
    """The bot over a small lexical index, with jiangcheng_news and the private channel listed."""
    # What `python -m bot` wires: add_articles bound to the index folder; reload loads the new version.
    news = NewsIndex(Retriever.load(index_dir), reload=lambda: Retriever.load(index_dir),
                     add=lambda batches: add_articles(batches, index_dir, None, IndexConfig(), embed=False))
    application = make_bot(news, admins=frozenset({ADMIN["id"]}),
                           channels=ChannelsConfig(usernames=frozenset({"jiangcheng_news"}),
                                                   ids=frozenset({PRIVATE_CHANNEL["id"]})))
    async with started(application):
        yield application
    news.close()


def post(api, chat, text, *, bold=0, message_id=None, edit=False, caption=False):
    message = {"message_id": message_id or 500, "date": 1_700_000_000, "chat": chat}
    key = "caption" if caption else "text"
    message[key] = text
    if bold:
        message[f"{key}_entities" if caption else "entities"] = [{"type": "bold", "offset": 0, "length": bold}]
    if caption:
        message["photo"] = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    if edit:
        message["edit_date"] = 1_700_000_100
        return api.update(edited_channel_post=message)
    return api.update(channel_post=message)



async def test_a_listed_channel_post_is_searchable_and_in_latest_and_an_edit_replaces_it(channel_bot, fake_bot_api,
                                                                                           index_dir):
    await feed(channel_bot, post(fake_bot_api, CHANNEL, POST, message_id=77))
    await feed(channel_bot, fake_bot_api.message_update("长江大桥每天通行多少车辆"))
    await feed(channel_bot, fake_bot_api.message_update("/latest"))
    answer, latest = fake_bot_api.sent("sendMessage")
    assert "全长十公里的长江大桥" in parse_html(answer["text"])[0]
    assert "江城新闻频道" in answer["text"] and 'href="https://t.me/jiangcheng_news/77"' in answer["text"]
    latest_text = parse_html(latest["text"])[0]
    assert latest_text.index(POST_TITLE) < latest_text.index("种子新闻标题")  # newest first
    assert "2023-11-15 06:13" in latest_text  # the post time, in China time

    fake_bot_api.forget_calls()
    await feed(channel_bot, post(fake_bot_api, CHANNEL, EDITED, message_id=77, edit=True))
    await feed(channel_bot, fake_bot_api.message_update("长江大桥每天通行多少车辆"))
    await feed(channel_bot, fake_bot_api.message_update("/latest"))
    answer, latest = fake_bot_api.sent("sendMessage")
    assert "全长十二公里" in answer["text"] and "全长十公里" not in answer["text"]
    assert parse_html(latest["text"])[0].count(POST_TITLE) == 1  # replaced, not added twice
    retriever = channel_bot.bot_data["services"].news.retriever
    article = retriever.article(f"tg-{CHANNEL['id']}-77")
    assert article.paragraphs == ["全长十二公里的长江大桥今天正式通车，预计每天通行车辆八万辆。"]
    assert channel_bot.bot_data["services"].usage["channel_posts"] == 2
    # The edit also wins in a rebuild from the sources (the seeds, then the added files in time order).
    build_index([index_dir.parent / "seeds"], index_dir, None, IndexConfig(),
                embed=False, progress=False, rebuild=True)
    rebuilt = Retriever.load(index_dir)
    try:
        assert rebuilt.article(f"tg-{CHANNEL['id']}-77").paragraphs == article.paragraphs
        assert [h.title for h in rebuilt.latest(10)].count(POST_TITLE) == 1
    finally:
        rebuilt.close()


async def test_an_unlisted_channel_post_is_not_stored(channel_bot, fake_bot_api, index_dir):
    version = store.current_version(index_dir)
    await feed(channel_bot, post(fake_bot_api, UNLISTED, POST, message_id=5))
    assert store.current_version(index_dir) == version  # no new index version
    assert not (index_dir / "added").exists()  # no article file written
    assert channel_bot.bot_data["services"].news.retriever.article(f"tg-{UNLISTED['id']}-5") is None
    assert channel_bot.bot_data["services"].usage["channel_posts_ignored"] == 1
    assert fake_bot_api.sent("sendMessage") == []  # nothing posted into anyone's chat


async def test_a_captioned_photo_with_a_bold_lead_in_a_private_channel(channel_bot, fake_bot_api):
    text = "暴雨预警：今晚江城有大到暴雨\n气象台发布暴雨黄色预警，提醒市民减少外出。"
    await feed(channel_bot, post(fake_bot_api, PRIVATE_CHANNEL, text, bold=4, message_id=9, caption=True))
    article = channel_bot.bot_data["services"].news.retriever.article(f"tg-{PRIVATE_CHANNEL['id']}-9")
    assert article.title == "暴雨预警" and article.source == "内部频道"
    assert article.paragraphs == ["今晚江城有大到暴雨", "气象台发布暴雨黄色预警，提醒市民减少外出。"]
    assert article.url == "https://t.me/c/9876543210/9"


async def test_an_admin_forwarding_a_listed_post_adds_it_and_others_are_asked_as_questions(channel_bot,
                                                                                          fake_bot_api):
    origin = {"type": "channel", "date": 1_700_000_000, "chat": CHANNEL, "message_id": 88}
    forwarded = fake_bot_api.message(chat=ADMIN_CHAT, user=ADMIN, text=POST, forward_origin=origin)
    await feed(channel_bot, fake_bot_api.update(message=forwarded))
    assert channel_bot.bot_data["services"].news.retriever.article(f"tg-{CHANNEL['id']}-88").title == POST_TITLE
    from_alice = fake_bot_api.message(text="长江大桥每天通行多少车辆", forward_origin=origin)  # not an admin
    await feed(channel_bot, fake_bot_api.update(message=from_alice))
    added, answered = fake_bot_api.texts()
    assert added == f"已加入新闻库：{POST_TITLE}" and "全长十公里" in answered


def test_the_title_is_the_bold_lead_or_the_first_line_cut_at_a_sentence():
    chat = Chat(-1001, "channel", title="频道", username="chan")
    when = datetime(2020, 2, 9, 2, 0, tzinfo=timezone.utc)
    one_line = channels.post_article(chat, 1, when, "只有一行的短消息", {})
    assert one_line.title == "只有一行的短消息" and one_line.paragraphs == ["只有一行的短消息"]
    assert one_line.published_at == "2020-02-09T10:00:00+08:00" and one_line.url == "https://t.me/chan/1"
    long_line = "第一句话说明了事情的起因。" + "后面是很长的细节描述" * 10
    article = channels.post_article(chat, 2, when, long_line, {})
    assert article.title == "第一句话说明了事情的起因。" and article.paragraphs == [long_line]
    bold = MessageEntity(MessageEntity.BOLD, 0, 4)
    led = channels.post_article(chat, 3, when, "重要通知 明天停水\n详情见下。", {bold: "重要通知"})
    assert led.title == "重要通知" and led.paragraphs == ["明天停水", "详情见下。"]
    assert channels.post_article(chat, 4, when, "  \n ", {}) is None


def test_channels_config():
    config = load_channels_config({"usernames": ["@JiangCheng_News"], "ids": [-100123]})
    assert config.allows(-1, "jiangcheng_news") and config.allows(-100123, None) and not config.allows(-1, None)
    with pytest.raises(ConfigError):
        load_channels_config({"usernames": [1]})
    # An unknown key is named in a warning and ignored (test_bot_config), not fatal.
    assert load_channels_config({"channels": []}).usernames == frozenset()
