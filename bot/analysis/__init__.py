"""Chat text analysis, with no Telegram in it: pure functions in, results out.

- ``summarize``: /summary's extractive summary of a window of group messages (keywords, quotes);
- ``excerpts``: sentence units, TF-IDF rows and the budgeted pick the summary quotes from;
- ``summarize_text``: cleaning, content characters, bigrams, jieba words and IDF;
- ``sentence_picker``: the one sentence of an article that says most of what it is about;
- ``digest``: which headlines a digest lists, each with its article's representative sentence;
- ``whatsnew``: the rules telling a "what's new" question (all news, or a topic's) from a question about a fact;
- ``messages``: ``ChatMessage``, one logged group message.

The Telegram layer (``bot.groups``, ``bot.handlers``) reads the chat log and the index, calls these,
and formats what they return (``bot.summary_format``, ``bot.digest_format``).
"""
