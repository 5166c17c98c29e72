"""``python -m bot`` with the fake encoder passed in (no model load), for tests that start the bot in a subprocess.

    PYTHONPATH=<project root> python -m tests.run_bot --config config.toml
"""

import sys

from bot.__main__ import main
from tests.hashencoder import HashEncoder

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], encoder=HashEncoder()))
