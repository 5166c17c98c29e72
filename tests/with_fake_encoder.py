"""``python -m bot`` or ``python -m index`` with the fake encoder passed in (no model load), for tests that
run them in a subprocess (a fresh process is what they test), as simonw/llm's tests register a mock model.

    PYTHONPATH=<project root> python -m tests.with_fake_encoder bot --config config.toml
    PYTHONPATH=<project root> python -m tests.with_fake_encoder index --config config.toml build
"""

import sys

from tests.hashencoder import HashEncoder

if __name__ == "__main__":
    program, argv = sys.argv[1], sys.argv[2:]
    if program == "bot":
        from bot.__main__ import main
    else:
        from index.__main__ import main
    sys.exit(main(argv, encoder=HashEncoder()))
