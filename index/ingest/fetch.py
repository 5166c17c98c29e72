"""Fetch a feed or page over http(s), bounded: one deadline, a size cap at every layer, checked redirects.

A public feed may not redirect to a private address, nothing but http(s) is followed, and the
bytes are capped as sent and after each layer of decompression.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx

from index.errors import FeedError

logger = logging.getLogger(__name__)

# A feed or page larger than this is refused: as sent, and after each layer of decompression.
MAX_BYTES = 10 << 20
MAX_LAYERS = 3  # compression layers (Content-Encoding and gzip files inside) undone at most
MAX_REDIRECTS = 5
USER_AGENT = "newsbot-feeds/0.1 (+https://github.com/)"


@dataclass(frozen=True)
class FetchResult:
    """One HTTP fetch: 200 with content, or 304 (not modified) without."""

    url: str
    status: int
    content: bytes | None
    etag: str | None
    modified: str | None
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(url: str, etag: str | None = None, modified: str | None = None, timeout: float = 10.0) -> FetchResult:
    """GET a URL with If-None-Match / If-Modified-Since; the whole fetch, redirects included, ends within timeout.

    Policy: http and https only, at most MAX_REDIRECTS redirects, any host and port, but an address
    that is not public (loopback, private, link-local such as cloud metadata, reserved) only when
    the URL asked for is itself on one (a local feed the admin chose); checked on the address
    actually connected to. At most MAX_BYTES as sent and after each decompression.
    Raises FeedError on a network error, a timeout, an HTTP error status, a refused redirect or an oversized body.
    """
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    _require_http(url)
    deadline = time.monotonic() + timeout
    try:
        backend = _DeadlineBackend(deadline, private_ok=is_private_url(url, timeout))
        with httpx.Client(transport=_Transport(backend), timeout=timeout) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url, headers=headers) as r:
                    if r.has_redirect_location:
                        url = _redirect_target(r, backend)
                        continue
                    return _result(url, r, etag, modified)
    except (httpx.TimeoutException, TimeoutError):
        raise FeedError(f"timed out after {timeout:g} s") from None
    except httpx.InvalidURL as e:  # httpx reads a redirect's Location before handing the response back
        raise FeedError(f"not a valid http(s) URL (or redirect): {e}") from None
    except httpx.HTTPError as e:
        raise FeedError(f"{type(e).__name__}: {e}") from None
    raise FeedError(f"more than {MAX_REDIRECTS} redirects")


def _require_http(url: str) -> None:
    if not re.match(r"https?://", url, re.IGNORECASE):
        raise FeedError(f"not an http(s) URL: {url[:100]}")


def _redirect_target(r: httpx.Response, backend: "_DeadlineBackend") -> str:
    """Where a redirect points, if the policy allows it (see fetch)."""
    location = r.headers["location"]
    try:
        target = str(r.url.join(location))
    except httpx.InvalidURL:
        raise FeedError(f"redirect to a URL that is not http(s): {location[:100]}") from None
    _require_http(target)
    if not address_allowed(target, backend.private_ok, backend.left(None, TimeoutError)):
        raise FeedError(f"redirect to a non-public address refused: {target[:100]}")
    return target


def _result(url: str, r: httpx.Response, etag: str | None, modified: str | None) -> FetchResult:
    """The response as a FetchResult: its raw bytes capped, then decompressed layer by layer within the cap."""
    if r.status_code == 304:
        return FetchResult(url, 304, None, r.headers.get("etag") or etag, r.headers.get("last-modified") or modified)
    if r.status_code >= 400:
        raise FeedError(f"HTTP {r.status_code}")
    if int(r.headers.get("content-length") or 0) > MAX_BYTES:
        raise FeedError(f"larger than {MAX_BYTES} bytes")
    chunks, size = [], 0
    for chunk in r.iter_raw():  # raw: httpx would inflate each chunk without a bound
        size += len(chunk)
        if size > MAX_BYTES:
            raise FeedError(f"larger than {MAX_BYTES} bytes")
        chunks.append(chunk)
    content = decompress(b"".join(chunks), r.headers.get("content-encoding", ""))
    return FetchResult(url, r.status_code, content, r.headers.get("etag"), r.headers.get("last-modified"),
                       r.headers.get("content-type", ""))


def decompress(data: bytes, encodings: str = "") -> bytes:
    """Undo Content-Encoding layers (gzip, deflate), then gzip files inside, each output capped at MAX_BYTES."""
    layers = [e for e in (e.strip().lower() for e in encodings.split(",")) if e and e != "identity"]
    if len(layers) > MAX_LAYERS:
        raise FeedError(f"more than {MAX_LAYERS} Content-Encoding layers")
    for encoding in reversed(layers):
        if encoding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            data = _inflate(data, zlib.MAX_WBITS) if data[:1] == b"\x78" else _inflate(data, -zlib.MAX_WBITS)
        else:
            raise FeedError(f"unsupported Content-Encoding {encoding[:30]!r}")
    for _ in range(MAX_LAYERS):
        if data[:2] != b"\x1f\x8b":  # not (or no longer) a gzip file
            return data
        data = _inflate(data, 16 + zlib.MAX_WBITS)
    raise FeedError(f"more than {MAX_LAYERS} layers of compression")


def _inflate(data: bytes, wbits: int) -> bytes:
    """One layer decompressed, refused as soon as it would pass MAX_BYTES."""
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, MAX_BYTES + 1)
    except zlib.error as e:
        raise FeedError(f"bad compressed data: {e}") from None
    if len(out) > MAX_BYTES or inflater.unconsumed_tail:
        raise FeedError(f"larger than {MAX_BYTES} bytes once decompressed")
    return out


def read_file(path: Path) -> bytes:
    """A saved feed or page, bounded like a download (MAX_BYTES, then gzip layers inside)."""
    with Path(path).open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FeedError(f"larger than {MAX_BYTES} bytes")
    return decompress(data)


def _addresses(host: str, timeout: float | None = None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses a host name (or literal) stands for; [] when it does not resolve.

    Raises TimeoutError when the lookup takes longer than timeout: the system resolver has no
    timeout of ours, so it runs in a daemon thread that is left behind if it hangs.
    """
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos: list = []

    def lookup() -> None:
        try:
            infos.extend(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError):
            pass

    thread = threading.Thread(target=lookup, name=f"resolve {host[:50]}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"looking up {host[:50]} timed out")
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_global


def is_private_url(url: str, timeout: float | None = None) -> bool:
    """Whether the URL's host is (or resolves to) a non-public address: loopback, private, link-local…"""
    host = urlsplit(url).hostname or ""
    return any(not _public(ip) for ip in _addresses(host, timeout))


def address_allowed(url: str, private_ok: bool, timeout: float | None = None) -> bool:
    """The redirect policy on addresses: public ones always, others only when private_ok."""
    host = urlsplit(url).hostname or ""
    addresses = _addresses(host, timeout)
    return bool(addresses) and (private_ok or all(_public(ip) for ip in addresses))


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sockets with every wait cut to what is left of one deadline, and the address policy.

    httpx's timeouts are per operation: a server sending a byte a second would never trip them.
    """

    def __init__(self, deadline: float, private_ok: bool):
        self.deadline, self.private_ok = deadline, private_ok
        self._sync = httpcore.SyncBackend()

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        """Seconds a socket operation may wait: its own timeout, at most what is left of the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the whole fetch timed out")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        # Connect to an address checked here, not to the name: DNS cannot answer differently later.
        try:
            found = _addresses(host, self.left(timeout, httpcore.ConnectTimeout))
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e)) from None
        allowed = [ip for ip in found if self.private_ok or _public(ip)]
        if not allowed:
            raise httpcore.ConnectError(f"{host}: " + ("no public address (not fetched)" if found else "not found"))
        error = None
        for ip in allowed:  # the next address when one is unreachable (IPv6 first on an IPv4 network)
            try:
                stream = self._sync.connect_tcp(str(ip), port, self.left(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
                return _DeadlineStream(stream, self)
            except httpcore.ConnectError as e:
                error = e
        raise error

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose reads and writes wait no longer than the backend's deadline allows."""

    def __init__(self, stream, backend: _DeadlineBackend):
        self.stream, self.backend = stream, backend

    def read(self, max_bytes, timeout=None):
        return self.stream.read(max_bytes, self.backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self.stream.write(buffer, self.backend.left(timeout, httpcore.WriteTimeout))

    def close(self):
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        left = self.backend.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, left), self.backend)

    def get_extra_info(self, info):
        return self.stream.get_extra_info(info)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a _DeadlineBackend (httpx has no public switch for the network backend)."""

    def __init__(self, backend: _DeadlineBackend):
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend)
