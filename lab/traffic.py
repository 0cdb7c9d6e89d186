"""Bounded test traffic for the lab: a poller that counts failed requests and gaps while a gateway is swapped,
and one long streaming request that says whether it arrived intact.

Safety: traffic goes only to loopback or to the lab's own networks (the fleet bridge and Docker's bridges). The
host name is resolved first and every address it resolves to must be in one of them; anything else is refused
with the reason. Redirects are not followed and proxy variables are ignored, so no request leaves those networks.
Every run is bounded (rate, seconds, requests) and stops by itself.
"""

import ipaddress
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests

ALLOWED_NETWORKS = (
    ("loopback", ipaddress.ip_network("127.0.0.0/8")),
    ("loopback", ipaddress.ip_network("::1/128")),
    ("the fleet bridge", ipaddress.ip_network("10.213.0.0/24")),
    ("Docker's bridges", ipaddress.ip_network("172.16.0.0/12")),
)
MAX_RATE = 100           # requests per second
MAX_SECONDS = 900        # a poller or a stream never runs longer
MAX_STREAM_SECONDS = 120  # what the gateway stand-in accepts (lab/images/gateway/handler.sh)
MAX_STREAM_CHUNKS = 1000
KEPT_ERRORS = 5          # error texts a result keeps (the first ones)

STREAM_PATH = "/v1/chat/agent"
CHUNK = re.compile(r"^chunk (\d+)/(\d+)$")
END = re.compile(r"^end of stream: (\d+) chunks$")


class TrafficRefused(ValueError):
    """The URL or a bound is outside what the lab allows; the message says why."""


def allowed_network(address):
    """The name of the lab network ``address`` (an IP string) is in, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for name, network in ALLOWED_NETWORKS:
        if ip.version == network.version and ip in network:
            return name
    return None


def check_url(url, resolve=socket.getaddrinfo):
    """Refuse (TrafficRefused) a URL that is not http(s) or whose host resolves to any address outside loopback,
    10.213.0.0/24 and 172.16.0.0/12. Returns the addresses it resolved to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TrafficRefused("refusing {0!r}: only http:// or https:// URLs with a host are allowed".format(url))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = resolve(parts.hostname, port, 0, socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise TrafficRefused("refusing {0!r}: cannot resolve {1!r} ({2}), so cannot check where it points".format(
            url, parts.hostname, error))
    addresses = sorted({info[4][0] for info in infos})
    if not addresses:
        raise TrafficRefused("refusing {0!r}: {1!r} resolves to no address".format(url, parts.hostname))
    outside = [address for address in addresses if allowed_network(address) is None]
    if outside:
        raise TrafficRefused(
            "refusing {0!r}: {1!r} resolves to {2}, outside the lab's networks (loopback, the fleet bridge "
            "10.213.0.0/24, Docker's bridges 172.16.0.0/12); test traffic never leaves them".format(
                url, parts.hostname, ", ".join(outside)))
    return addresses


def _bounded(name, value, low, high):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise TrafficRefused("{0} must be a number from {1} to {2}, got {3!r}".format(name, low, high, value))
    return value


def _session(verify):
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: requests go where check_url looked
    session.verify = verify
    return session


def error_text(error):
    """A short text for a failed request: the exception class and its message."""
    return "{0}: {1}".format(type(error).__name__, error)[:300]


@dataclass
class PollResult:
    """What a Poller saw. ``per_second`` lists one entry per second since the start: second, sent, ok, failed."""

    url: str
    sent: int = 0
    ok: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)        # the first KEPT_ERRORS: {"at": seconds, "error": text}
    statuses: dict = field(default_factory=dict)      # HTTP status -> count (answered requests)
    longest_gap: float = None                          # seconds between two successful answers (None: < 2)
    per_second: list = field(default_factory=list)
    seconds: float = 0.0
    stopped_by: str = ""                               # max_seconds, max_requests or stop

    def as_dict(self):
        return asdict(self)


class Tally:
    """The pure bookkeeping of a poll: feed it each request's outcome (time since start, status or error)."""

    def __init__(self, url):
        self.result = PollResult(url=url)
        self._last_ok = None
        self._seconds = {}

    def record(self, at, status=None, error=None):
        """``at``: seconds since the start when the answer (or the error) came; ``status``: the HTTP status, or
        None with ``error`` (a text) when no answer came. A 5xx counts as failed, anything else as answered."""
        result = self.result
        result.sent += 1
        bucket = self._seconds.setdefault(int(at), {"second": int(at), "sent": 0, "ok": 0, "failed": 0})
        bucket["sent"] += 1
        if status is not None:
            result.statuses[status] = result.statuses.get(status, 0) + 1
        if status is None or status >= 500:
            result.failed += 1
            bucket["failed"] += 1
            if len(result.errors) < KEPT_ERRORS:
                result.errors.append({"at": round(at, 3), "error": error or "HTTP {0}".format(status)})
            return
        result.ok += 1
        bucket["ok"] += 1
        if self._last_ok is not None:
            gap = at - self._last_ok
            if result.longest_gap is None or gap > result.longest_gap:
                result.longest_gap = round(gap, 3)
        self._last_ok = at

    def finish(self, seconds, stopped_by):
        result = self.result
        result.seconds = round(seconds, 3)
        result.stopped_by = stopped_by
        last = max(self._seconds) if self._seconds else -1
        result.per_second = [self._seconds.get(second, {"second": second, "sent": 0, "ok": 0, "failed": 0})
                             for second in range(last + 1)]
        return result


class _Background:
    """Runs ``_run`` once in a daemon thread that sets ``self.result`` when it ends."""

    def __init__(self, verify):
        self.verify = verify
        self._thread = None
        self.result = None

    def start(self):
        if self._thread is not None:
            raise RuntimeError("a {0} runs once".format(type(self).__name__))
        self._thread = threading.Thread(target=self._run, name=type(self).__name__.lower(), daemon=True)
        self._thread.start()
        return self

    def _run(self):
        raise NotImplementedError

    def wait(self, timeout=None):
        """Wait for the run to end by itself; its result (None while it still runs)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result


class Poller(_Background):
    """GET ``url`` ``rate`` times a second in a background thread until ``max_seconds`` or ``max_requests`` is
    reached or stop() is called. One request at a time: a request slower than the interval delays the next one
    (missed slots are not made up), so a hanging server lowers the rate rather than piling up connections.
    With ``keep_alive`` (the default, as a client with a connection pool) a connection the server closes while
    idle (an NGINX reload does) can fail the next request; ``keep_alive=False`` opens one per request.

    with Poller("http://127.0.0.1:5052/monitoring/healthz", rate=20, max_seconds=30) as poller:
        ...                      # do the upgrade
    result = poller.result      # PollResult
    """

    def __init__(self, url, rate=20, max_seconds=60, max_requests=None, verify=True, timeout=2.0, headers=None,
                 keep_alive=True):
        self.addresses = check_url(url)
        self.url = url
        self.rate = _bounded("rate", rate, 0.1, MAX_RATE)
        self.max_seconds = _bounded("max_seconds", max_seconds, 0.1, MAX_SECONDS)
        # Without max_requests, rate and max_seconds bound the count already.
        self.max_requests = int(_bounded("max_requests", max_requests, 1, MAX_RATE * MAX_SECONDS)) \
            if max_requests is not None else None
        self.timeout = _bounded("timeout", timeout, 0.05, 60)
        self.headers = dict(headers or {})
        if not keep_alive:  # a new connection per request: an NGINX reload closing idle ones cannot touch it
            self.headers["Connection"] = "close"
        self._stop = threading.Event()
        super().__init__(verify)

    def _run(self):
        tally = Tally(self.url)
        session = _session(self.verify)
        interval = 1.0 / self.rate
        start = time.monotonic()
        next_at = start
        stopped_by = "max_requests"
        try:
            while self.max_requests is None or tally.result.sent < self.max_requests:
                now = time.monotonic()
                if now - start >= self.max_seconds:
                    stopped_by = "max_seconds"
                    break
                if next_at > now and self._stop.wait(next_at - now):
                    stopped_by = "stop"
                    break
                if self._stop.is_set():
                    stopped_by = "stop"
                    break
                next_at = max(next_at + interval, time.monotonic())
                try:
                    response = session.get(self.url, timeout=self.timeout, headers=self.headers,
                                           allow_redirects=False)
                    response.close()
                    tally.record(time.monotonic() - start, status=response.status_code)
                except requests.RequestException as error:
                    tally.record(time.monotonic() - start, error=error_text(error))
        finally:
            session.close()
            self.result = tally.finish(time.monotonic() - start, stopped_by)

    def stop(self):
        """End the poll now; its PollResult."""
        self._stop.set()
        return self.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()


def stream_url(url, seconds, chunks):
    """The stand-in's streaming request: ``url`` (the gateway's base URL, or the endpoint itself) with the
    stand-in's knobs in the query string."""
    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/") else STREAM_PATH
    query = "standin_chunks={0}&standin_seconds={1}".format(chunks, seconds)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def stream_body():
    """A Duo Chat request as GitLab sends it to POST /v1/chat/agent (ChatRequest in
    ai_gateway/api/v1/chat/typing.py), asking for a stream."""
    return {
        "prompt_components": [{
            "type": "prompt",
            "metadata": {"source": "gitlab_duo.self_hosted lab", "version": "1"},
            "payload": {"content": [{"role": "user", "content": "Say hello slowly"}], "provider": "litellm",
                        "model": "mistral", "model_endpoint": "http://127.0.0.1:4000/v1"},
        }],
        "stream": True,
    }


def check_stream(text, chunks):
    """Whether ``text`` (the whole body) is the stand-in's stream of ``chunks`` pieces, intact: returns
    (intact, received, in_order, end_marker) where received counts the chunk lines that came."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    numbers = []
    end_marker = False
    stray = False
    for index, line in enumerate(lines):
        match = CHUNK.match(line)
        if match and int(match.group(2)) == chunks:
            numbers.append(int(match.group(1)))
            continue
        end = END.match(line)
        if end and int(end.group(1)) == chunks and index == len(lines) - 1:
            end_marker = True
            continue
        stray = True
    in_order = numbers == list(range(1, len(numbers) + 1))
    intact = in_order and len(numbers) == chunks and end_marker and not stray
    return intact, len(numbers), in_order, end_marker


@dataclass
class StreamResult:
    """What one streaming request got. ``seconds``: from sending to the last byte (or the error);
    ``first_chunk_seconds``: until the first piece of the body arrived."""

    url: str
    chunks: int
    intact: bool = False
    status: int = None
    content_type: str = None
    received: int = 0
    in_order: bool = False
    end_marker: bool = False
    seconds: float = None
    first_chunk_seconds: float = None
    error: str = None

    def as_dict(self):
        return asdict(self)


class Stream(_Background):
    """One streaming request to the gateway stand-in (POST /v1/chat/agent with "stream": true), run in a
    background thread: ``chunks`` pieces (default two a second) spread over ``seconds``.

    stream = Stream("http://127.0.0.1:5052", seconds=20, headers={"Authorization": "Bearer x"}).start()
    ...
    result = stream.wait()      # StreamResult: intact, seconds, ...
    """

    def __init__(self, url, seconds, headers=None, verify=True, chunks=None, timeout=None):
        self.addresses = check_url(url)
        self.seconds = int(_bounded("seconds", seconds, 0, MAX_STREAM_SECONDS))
        self.chunks = int(_bounded("chunks", chunks if chunks is not None else max(1, 2 * self.seconds),
                                   1, MAX_STREAM_CHUNKS))
        self.url = stream_url(url, self.seconds, self.chunks)
        self.headers = dict(headers or {})
        # No piece for longer than this ends the request (requests' read timeout is per read).
        self.timeout = timeout or (5.0, 10.0 + self.seconds / self.chunks)
        super().__init__(verify)

    def run(self):
        """Run in the calling thread; the StreamResult."""
        return self.start().wait()

    def _run(self):
        result = StreamResult(url=self.url, chunks=self.chunks)
        session = _session(self.verify)
        start = time.monotonic()
        body = []
        try:
            with session.post(self.url, json=stream_body(), headers=self.headers, stream=True,
                              timeout=self.timeout, allow_redirects=False) as response:
                result.status = response.status_code
                result.content_type = response.headers.get("Content-Type")
                for piece in response.iter_content(chunk_size=None):
                    if result.first_chunk_seconds is None:
                        result.first_chunk_seconds = round(time.monotonic() - start, 3)
                    body.append(piece)
            if result.status != 200:
                result.error = "HTTP {0}".format(result.status)
        except requests.RequestException as error:
            result.error = error_text(error)
        finally:
            session.close()
            result.seconds = round(time.monotonic() - start, 3)
            text = b"".join(body).decode("utf-8", "replace")
            intact, result.received, result.in_order, result.end_marker = check_stream(text, self.chunks)
            result.intact = intact and result.status == 200 and result.error is None
            self.result = result
