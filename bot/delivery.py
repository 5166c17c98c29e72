"""Getting updates in and replies out when Telegram misbehaves: retries, rate limits, order, redeliveries.

- ``RetryingRateLimiter`` keeps every request within Telegram's flood limits (AIORateLimiter),
  waits out a 429's ``retry_after`` and retries, and retries network failures when that cannot
  send a message twice (see ``safe_to_retry``).
- ``ChatOrderedProcessor`` handles updates concurrently, but one at a time per chat, so a chat's
  answers come in the order it asked.
- ``drop_redelivered_updates`` drops an update whose ``update_id`` was already handled (a server may redeliver one).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from telegram import Update
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, ApplicationHandlerStop, BaseUpdateProcessor, ContextTypes

from .services import services

logger = logging.getLogger(__name__)

# Telegram: at most 30 messages a second overall, 20 a minute in one group. These are sliding
# windows (never more than 30 in any second, 20 in any minute): AIORateLimiter's leaky buckets
# let a full bucket burst on top of the rate, up to 60 in a second or 40 in a minute.
OVERALL_RATE = (30, 1.0)
GROUP_RATE = (20, 60.0)
WINDOW_MARGIN = 0.1  # seconds of slack, so the request's travel time cannot squeeze a window
RETRY_AFTER_RETRIES = 3  # a 429 is waited out (retry_after + 0.1 s) this many times, then raised
NETWORK_RETRIES = 3  # network failures safe to retry are retried this many times
BACKOFF = 0.5  # seconds before the first network retry; doubled for each next one

# Methods that change nothing, or change it to the same thing when repeated: repeating one whose
# answer was lost is harmless. Everything else (sendMessage above all) may already have happened.
IDEMPOTENT = frozenset(
    {
        "getMe", "getChat", "getChatMember", "getChatAdministrators", "getMyCommands",
        "setMyCommands", "deleteMyCommands", "sendChatAction", "answerCallbackQuery",
        "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates",
    }
)
# httpx errors raised before the request left this machine: nothing reached Telegram.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def safe_to_retry(endpoint: str, error: Exception) -> bool:
    """Whether repeating a failed request cannot do twice what the user should see once.

    - The request never left (connect error, connect or pool timeout): always safe.
    - Telegram answered with an error status (5xx, no ``retry_after``): it reports the call as
      failed, so nothing was sent; always safe.
    - No answer (read or write timeout, connection dropped mid-request): the message may have been
      delivered, so only idempotent methods are repeated. A lost answer is logged, not re-sent:
      a user may miss one reply but never gets the same reply twice.
    """
    if isinstance(error, RetryAfter | BadRequest | Conflict) or not isinstance(error, NetworkError):
        return False  # 429s are the rate limiter's; 400/403/409 would fail the same way again
    cause = error.__cause__
    if isinstance(cause, _NOT_SENT):
        return True
    if cause is None and not isinstance(error, TimedOut):
        return True  # an HTTP error status from the server, e.g. 500 or 502
    return endpoint in IDEMPOTENT


class SlidingWindow:
    """An async context manager that lets at most ``limit`` requests start in any ``period`` s.

    Waiters are served in arrival order. ``limit`` 0 lets everything through.
    """

    def __init__(self, limit: int, period: float, margin: float = WINDOW_MARGIN, *,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.limit = limit
        self.period = period
        self.margin = margin
        self._clock = clock  # None: the running loop's clock (tests give a fake one with its own sleep)
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._turn = asyncio.Lock()

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def _forget_old(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - self.period:
            self._starts.popleft()

    async def __aenter__(self) -> None:
        if not self.limit:
            return
        async with self._turn:
            while True:
                now = self._now()
                self._forget_old(now)
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                await self._sleep(self._starts[0] + self.period + self.margin - now)

    async def __aexit__(self, *exc: object) -> None:
        return None

    def idle(self) -> bool:
        """Whether nothing started within the last period and no one waits."""
        self._forget_old(self._now())
        return not self._starts and not self._turn.locked()


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter with sliding-window flood limits, 429 retries, and safe network retries.

    AIORateLimiter does the plumbing (which requests count for which chat, RetryAfter waits
    that pause every request); its leaky buckets are replaced by ``SlidingWindow``s.
    """

    def __init__(
        self,
        *,
        overall_rate: tuple[float, float] = OVERALL_RATE,
        group_rate: tuple[float, float] = GROUP_RATE,
        max_retries: int = RETRY_AFTER_RETRIES,
        network_retries: int = NETWORK_RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_rate[0],
            overall_time_period=overall_rate[1],
            group_max_rate=group_rate[0],
            group_time_period=group_rate[1],
            max_retries=max_retries,
        )
        self.network_retries = network_retries
        self.backoff = backoff
        self.overall_rate = overall_rate
        self.group_rate = group_rate
        if overall_rate[0] and overall_rate[1]:
            self._base_limiter = SlidingWindow(int(overall_rate[0]), overall_rate[1])
        self._windows: dict[str | int | bool, SlidingWindow] = {}

    def _get_group_limiter(self, group_id: str | int | bool) -> SlidingWindow:  # type: ignore[override]
        """The sliding window of one group or channel (idle ones dropped past 512 groups)."""
        if len(self._windows) > 512:
            for key, window in list(self._windows.items()):
                if key != group_id and window.idle():
                    del self._windows[key]
        if group_id not in self._windows:
            self._windows[group_id] = SlidingWindow(int(self.group_rate[0]), self.group_rate[1])
        return self._windows[group_id]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Send the request through the rate limiter; retry it after a network failure if safe."""
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except NetworkError as e:
                if attempt == self.network_retries or not safe_to_retry(endpoint, e):
                    raise
                delay = self.backoff * 2**attempt
                logger.warning("%s failed (%s); retry %d in %.1f s", endpoint, e, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Handle updates concurrently, but those of one chat one after another, in arrival order.

    PTB's semaphore (``max_concurrent_updates``) is taken before ``do_process_update``, so an
    update waiting for its chat would hold a slot and a busy chat could stall the others. Here
    that semaphore is wide (waiting is cheap), and ``concurrent`` bounds the updates actually
    being handled, taken only once an update's chat is free.
    """

    def __init__(self, concurrent: int, waiting: int = 4096) -> None:
        super().__init__(max_concurrent_updates=waiting)
        self._working = asyncio.Semaphore(concurrent)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id -> (lock, users)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the update's chat to be free (FIFO), then for a worker slot, then handle it."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._working:
                await coroutine
            return
        lock, users = self._chats.get(chat.id, (None, 0))
        lock = lock or asyncio.Lock()
        self._chats[chat.id] = (lock, users + 1)
        try:
            async with lock, self._working:
                await coroutine
        finally:
            lock, users = self._chats[chat.id]
            if users == 1:
                del self._chats[chat.id]  # no one else waits: keep the table as small as the load
            else:
                self._chats[chat.id] = (lock, users - 1)

    @property
    def busy_chats(self) -> int:
        """How many chats have an update being handled or waiting."""
        return len(self._chats)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


SEEN_UPDATES = 10_000  # update ids remembered to drop redeliveries; Telegram's ids only grow


async def drop_redelivered_updates(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop an update whose id was already handled, so a redelivered question is answered once."""
    seen = services(context).seen_updates
    if update.update_id in seen:
        logger.info("dropping redelivered update %d", update.update_id)
        services(context).usage["redelivered"] += 1
        raise ApplicationHandlerStop
    # Check and record with no await in between: concurrent copies cannot both get through.
    seen[update.update_id] = None
    while len(seen) > SEEN_UPDATES:
        seen.popitem(last=False)
