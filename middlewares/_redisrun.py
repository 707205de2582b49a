"""A distributed crawl's shared state in Redis: the run, its reliable queue, site-file captures, politeness.

Transport code (redis-py, synchronous: one loopback/LAN round trip is far shorter than a fetch). Every key
of run RUN lives under `consentry:RUN:` (docs/distributed.md lists them):

* `meta` (hash) — the run's identity: created by `consentry queue push`; the first worker to join records its
  consentry version and policy digest (`PolicyConfig.config_sha256`), and a later worker whose version or
  digest differs is refused (`RunMismatch`).
* `pending` (list) — queued rows (`{"url", "columns"}` JSON), FIFO; `seen` (set) — the run's duplicate
  filter, scrapy-redis's `RFPDupeFilter` request fingerprint of each URL pushed.
* `leases` (sorted set, member -> lease deadline in ms of Redis's clock), `owners` (hash member -> worker),
  `attempts` (hash member -> times it was re-queued), `done` (counter), `failed` (list: given up after
  `MAX_ATTEMPTS`). Leasing is one Lua script: expired leases (a dead worker's) go back to the head of
  `pending` with their attempt count raised, then up to N rows move from `pending` into `leases` — atomically,
  so a row is always in exactly one of pending / leased / done. `ack` removes a lease only for its owner.
* `capture:URL-SHA1` (hash, expires after the site-file TTL) and `lock:URL-SHA1` (SET NX PX) — one site-file
  fetch per TTL in the whole cluster (`consentry.middlewares.cluster.SharedSiteFiles`).
* `slot:ORIGIN` / `held:ORIGIN` / `places:ORIGIN` — the origin's next request time (Crawl-delay), its
  Retry-After hold and its requests in flight in the whole cluster (tokens renewed by their worker's heartbeat
  that expire like leases, so a dead worker's places come back).

All times come from Redis (`TIME`) inside the scripts, so workers on machines with skewed clocks agree.
A connection error is raised to the caller (`redis.exceptions.ConnectionError`); nothing here fails open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "KEY_PREFIX",
    "MAX_ATTEMPTS",
    "Lease",
    "RunMismatch",
    "RunStore",
    "SharedViewUnavailable",
    "connect",
    "fingerprint",
    "persistence_problem",
]

KEY_PREFIX = "consentry"
#: Times a row is leased before it is given up (moved to `failed`): a worker that dies on it every time.
MAX_ATTEMPTS = 5

_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[6]) == 0 then return {-1} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
local requeued = 0
for i = #expired, 1, -1 do
  local m = expired[i]
  redis.call('ZREM', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  local a = redis.call('HINCRBY', KEYS[4], m, 1)
  if a >= tonumber(ARGV[4]) then
    redis.call('RPUSH', KEYS[7], m)
  else
    redis.call('LPUSH', KEYS[1], m)
    requeued = requeued + 1
  end
end
local out = {}
for i = 1, tonumber(ARGV[2]) do
  local m = redis.call('LPOP', KEYS[1])
  if not m then break end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), m)
  redis.call('HSET', KEYS[3], m, ARGV[1])
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[4], m) or '0'
end
return {requeued, redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]), out}
"""

_ACK = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[3])
return 1
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 1, #ARGV - 2 do
  local m = ARGV[i + 2]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), m)
    n = n + 1
  end
end
return n
"""

#: A place among the origin's requests in flight in the whole cluster (a sorted set of tokens, each expiring
#: after ARGV[4] ms, so a dead worker's places come back) and the origin's next free request time:
#: max(next slot, Retry-After hold); the slot then moves on by the interval. Returns the milliseconds to wait,
#: -1 when every place is taken, -2 when the run is gone (no request is sent for a run Redis has lost).
_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[4]) == 0 then return -2 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if tonumber(ARGV[2]) > 0 and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then return -1 end
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[2]) or '0'))
local interval = tonumber(ARGV[1])
if interval > 0 then redis.call('SET', KEYS[1], at + interval, 'PX', interval + 60000) end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]))
return at - now
"""

_RENEW_PLACES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]))
end
return #KEYS
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms
"""


class RunMismatch(ValueError):
    """The run in Redis is not one this worker may join (missing, another policy, another version)."""


class SharedViewUnavailable(RuntimeError):
    """Redis could not give the run's shared view: the request is neither decided nor acknowledged."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One leased row: its queue member (the JSON row), URL, carried columns, attempt (1 = first time)."""

    member: str
    url: str
    columns: Mapping[str, Any]
    attempt: int


def fingerprint(url: str) -> str:
    """scrapy-redis's `RFPDupeFilter` fingerprint of a GET of `url` (its duplicate filter, shared by workers)."""
    from scrapy import Request
    from scrapy_redis.dupefilter import RFPDupeFilter

    return str(RFPDupeFilter.request_fingerprint(None, Request(url)))


def connect(url: str) -> Any:
    """A redis-py client for `url` (`redis://HOST:PORT/DB`, `rediss://`, `unix://`), pinged once.
    `ValueError` with one line for a malformed URL or an unreachable server."""
    import redis

    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"--redis {url}: expected redis://HOST:PORT/DB (or rediss://, unix://)")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=10)
        client.ping()
    except (ValueError, redis.exceptions.RedisError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"--redis {url}: cannot use this Redis server ({detail})") from None
    return client


def persistence_problem(client: Any) -> str | None:
    """Why this server would lose the run on a restart (no RDB snapshots and no AOF), or None."""
    config = client.config_get("save")
    aof = client.config_get("appendonly")
    if str(config.get("save") or "").strip() or str(aof.get("appendonly")) == "yes":
        return None
    return "the Redis server has no persistence (save '' and appendonly no): a restart loses the run's queue"


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RunStore:
    """One run's keys on one Redis client; every method is a single round trip unless it says otherwise."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._lease = client.register_script(_LEASE)
        self._ack = client.register_script(_ACK)
        self._renew = client.register_script(_RENEW)
        self._slot = client.register_script(_SLOT)
        self._hold = client.register_script(_HOLD)
        self._renew_places = client.register_script(_RENEW_PLACES)
        self.round_trips = 0

    def key(self, name: str) -> str:
        """The full Redis key of `name` in this run."""
        return f"{KEY_PREFIX}:{self.run_id}:{name}"

    def _queue_keys(self) -> list[str]:
        return [self.key(n) for n in ("pending", "leases", "owners", "attempts", "done", "meta", "failed")]

    # -- the run ---------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """The run's identity (empty when the run does not exist)."""
        self.round_trips += 1
        return {_text(k): _text(v) for k, v in self.client.hgetall(self.key("meta")).items()}

    def create(self, identity: Mapping[str, str]) -> dict[str, str]:
        """Create the run with `identity` unless it exists; return the run's identity as stored."""
        self.round_trips += 2
        self.client.hsetnx(self.key("meta"), "created", str(time.time()))
        for name, value in identity.items():
            self.client.hsetnx(self.key("meta"), name, value)
        return self.meta()

    def join(self, identity: Mapping[str, str]) -> dict[str, str]:
        """The run's identity, the first worker's `identity` fixing it (HSETNX: of two workers starting at
        once, one wins); `RunMismatch` when the run does not exist or any field of `identity` differs."""
        if not self.meta():
            raise RunMismatch(f"run {self.run_id!r} does not exist in this Redis database "
                              "(seed it first: consentry queue push --run-id …)")
        pipe = self.client.pipeline(transaction=True)
        for name, value in identity.items():
            pipe.hsetnx(self.key("meta"), name, value)
        pipe.execute()
        self.round_trips += 1
        stored = self.meta()
        for name, value in identity.items():
            if stored.get(name, value) != value:
                raise RunMismatch(f"run {self.run_id!r} was created with {name} {stored[name]}, this worker has "
                                  f"{value}: a worker must decide under the run's policy")
        return stored

    # -- seeding ---------------------------------------------------------------------------------------------
    def push(self, rows: Iterable[tuple[str, Mapping[str, Any]]], batch: int = 500) -> tuple[int, int]:
        """Queue `rows` (URL, carried columns) not seen in this run before; (queued, duplicates). One round
        trip per `batch` rows for the duplicate filter and one for the queue."""
        queued = duplicates = 0
        chunk: list[tuple[str, Mapping[str, Any]]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                q, d = self._push(chunk)
                queued, duplicates, chunk = queued + q, duplicates + d, []
        if chunk:
            q, d = self._push(chunk)
            queued, duplicates = queued + q, duplicates + d
        return queued, duplicates

    def _push(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[int, int]:
        seen = self.client.pipeline(transaction=False)
        for url, _ in rows:
            seen.sadd(self.key("seen"), fingerprint(url))
        added = seen.execute()
        fresh = [json.dumps({"url": url, "columns": dict(columns)}, ensure_ascii=False, sort_keys=True)
                 for (url, columns), new in zip(rows, added, strict=True) if new]
        self.round_trips += 2
        if fresh:
            self.client.rpush(self.key("pending"), *fresh)
        return len(fresh), len(rows) - len(fresh)

    # -- the reliable queue ----------------------------------------------------------------------------------
    def lease(self, worker: str, count: int, lease_ms: int) -> tuple[list[Lease], int, int, int]:
        """Up to `count` rows leased to `worker` for `lease_ms`; also (expired leases re-queued, pending after,
        leased after). `RunMismatch` when the run's state is gone (a Redis that lost its data)."""
        self.round_trips += 1
        answer = self._lease(keys=self._queue_keys(), args=[worker, count, lease_ms, MAX_ATTEMPTS])
        if answer[0] == -1:
            raise RunMismatch(self._gone())
        requeued, pending, leased, flat = int(answer[0]), int(answer[1]), int(answer[2]), answer[3]
        leases = []
        for member, attempts in zip(flat[::2], flat[1::2], strict=True):
            text = _text(member)
            row = json.loads(text)
            leases.append(Lease(text, str(row["url"]), row.get("columns") or {}, int(_text(attempts)) + 1))
        return leases, requeued, pending, leased

    def _gone(self) -> str:
        return (f"run {self.run_id!r} is gone from Redis (was the server restarted without persistence?): "
                "stopping, no decision is made without the shared queue")

    def ack(self, worker: str, member: str) -> bool:
        """Mark `member` done if `worker` still holds its lease (a lease that expired and went to another
        worker is that worker's to acknowledge)."""
        self.round_trips += 1
        return bool(self._ack(keys=[self.key("leases"), self.key("owners"), self.key("done")], args=[worker, member]))

    def ack_many(self, worker: str, members: Sequence[str]) -> list[bool]:
        """`ack` of each of `members`, in one round trip (a published dataset shard's samples)."""
        if not members:
            return []
        self.round_trips += 1
        keys = [self.key("leases"), self.key("owners"), self.key("done")]
        pipe = self.client.pipeline(transaction=False)
        for member in members:
            self._ack(keys=keys, args=[worker, member], client=pipe)
        return [bool(done) for done in pipe.execute()]

    def renew(self, worker: str, members: Sequence[str], lease_ms: int) -> int:
        """Extend the leases `worker` still holds among `members`."""
        if not members:
            return 0
        self.round_trips += 1
        return int(self._renew(keys=[self.key("leases"), self.key("owners")], args=[worker, lease_ms, *members]))

    def status(self) -> dict[str, Any]:
        """pending, in_flight (leased), done, failed, requeued rows, per-worker leases and the run's identity."""
        pipe = self.client.pipeline(transaction=True)
        pipe.llen(self.key("pending"))
        pipe.zcard(self.key("leases"))
        pipe.get(self.key("done"))
        pipe.llen(self.key("failed"))
        pipe.hlen(self.key("attempts"))
        pipe.hvals(self.key("owners"))
        pipe.hgetall(self.key("meta"))
        pending, leased, done, failed, requeued, owners, meta = pipe.execute()
        self.round_trips += 1
        workers: dict[str, int] = {}
        for owner in owners:
            workers[_text(owner)] = workers.get(_text(owner), 0) + 1
        return {"run_id": self.run_id, "pending": int(pending), "in_flight": int(leased), "done": int(done or 0),
                "failed": int(failed), "requeued": int(requeued), "workers": dict(sorted(workers.items())),
                "meta": {_text(k): _text(v) for k, v in meta.items()}}

    # -- site-file captures ----------------------------------------------------------------------------------
    def _capture_key(self, url: str, kind: str) -> str:
        return self.key(f"{kind}:" + hashlib.sha1(url.encode("utf-8")).hexdigest())  # noqa: S324 (a key)

    def capture(self, url: str) -> dict[str, Any] | None:
        """The capture of site file `url` stored by some worker, while fresh."""
        self.round_trips += 1
        stored = self.client.get(self._capture_key(url, "capture"))
        if stored is None:
            return None
        capture: dict[str, Any] = json.loads(stored)
        capture["body"] = base64.b64decode(capture["body"])
        return capture

    def store_capture(self, url: str, capture: Mapping[str, Any], ttl_s: float) -> None:
        """Store `capture` (body bytes) for `ttl_s` seconds and release the fetch lock."""
        payload = dict(capture)
        payload["body"] = base64.b64encode(bytes(capture["body"])).decode("ascii")
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._capture_key(url, "capture"), json.dumps(payload, sort_keys=True), px=max(1, int(ttl_s * 1000)))
        pipe.delete(self._capture_key(url, "lock"))
        pipe.execute()
        self.round_trips += 1

    def lock(self, url: str, worker: str, hold_ms: int) -> bool:
        """Take the cluster's fetch lock of site file `url` (SET NX PX); False when another worker holds it."""
        self.round_trips += 1
        return bool(self.client.set(self._capture_key(url, "lock"), worker, nx=True, px=hold_ms))

    def unlock(self, url: str, worker: str) -> None:
        """Release the fetch lock of `url` if `worker` holds it (a failed fetch: another worker may try)."""
        self.round_trips += 1
        key = self._capture_key(url, "lock")
        if _text(self.client.get(key) or b"") == worker:
            self.client.delete(key)

    # -- politeness ------------------------------------------------------------------------------------------
    def next_slot(self, origin: str, interval_s: float, limit: int, token: str, hold_s: float) -> float | None:
        """Take one of the `limit` places of `origin` in the whole cluster under `token` (held at most `hold_s`)
        and return the seconds until this worker may send the request (the later of the origin's next slot and
        its Retry-After hold; the slot then moves on by `interval_s` for every worker); None when every place is
        taken (`limit` 0: no limit)."""
        self.round_trips += 1
        keys = [self.key(f"slot:{origin}"), self.key(f"held:{origin}"), self.key(f"places:{origin}"), self.key("meta")]
        wait_ms = int(self._slot(keys=keys, args=[int(interval_s * 1000), limit, token, int(hold_s * 1000)]))
        if wait_ms == -2:
            raise RunMismatch(self._gone())
        return None if wait_ms < 0 else wait_ms / 1000

    def release(self, origin: str, token: str) -> None:
        """Give back the place `token` holds among the origin's requests in flight."""
        self.round_trips += 1
        self.client.zrem(self.key(f"places:{origin}"), token)

    def renew_places(self, places: Sequence[tuple[str, str]], hold_s: float) -> None:
        """Extend the places (origin, token) this worker's requests in flight hold."""
        if not places:
            return
        self.round_trips += 1
        self._renew_places(keys=[self.key(f"places:{origin}") for origin, _ in places],
                           args=[int(hold_s * 1000), *(token for _, token in places)])

    def hold(self, origin: str, seconds: float) -> None:
        """Hold `origin` for `seconds` in every worker (a Retry-After)."""
        self.round_trips += 1
        self._hold(keys=[self.key(f"held:{origin}")], args=[int(seconds * 1000)])
