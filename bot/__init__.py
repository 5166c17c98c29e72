"""The Telegram side of the news bot: handlers, formatting and wiring on top of the index library."""
