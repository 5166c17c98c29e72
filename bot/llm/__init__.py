"""The optional answer paragraph over the quotes ([llm] in config.toml): imported only when it is on.

- ``client``: any OpenAI-compatible /v1/chat/completions, streamed, over httpx, every input bounded;
- ``prompt``: the question and the numbered passages (title, time, source);
- ``guard``: every sentence cites a passage, and its numbers, dates and quoted names are in it;
- ``compose``: the budget, the stream, the guard sentence by sentence; None means the quotes alone.
"""
