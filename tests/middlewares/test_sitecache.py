"""SiteCache in-process: a real Scrapy crawler whose engine download is a counting test double, and a fake clock.

Scrapy's own fast layer for downloader middlewares (as its RobotsTxtMiddleware tests do): `get_crawler()` gives a
real crawler (settings, signals, stats); only `engine.download_async` — the dependency — is replaced by
`FakeEngine`, which answers with real `Response` objects or raises, and counts what it was asked for. The clock
is injected so TTL expiry is exact. Status rules are RFC 9309 §2.3.1 (2xx OK, 4xx unavailable, 5xx / errors /
more than five redirects unreachable).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.utils.test import get_crawler

from consentry.middlewares._config import consent_settings
from consentry.middlewares._sitecache import SiteCache
from consentry.middlewares.signals import consent_fetch_failed
from consentry.policies.evaluate import SitePolicy
from consentry.policies.model import FetchStatus
from consentry.policies.vocabulary import Verdict

ORIGIN = "http://a.test"
ROBOTS = f"{ORIGIN}/robots.txt"
TTL = 3_600
UNREACHABLE_TTL = 60

#: What the fake engine answers for a URL: (status, body, headers) or an exception to raise.
Answer = tuple[int, bytes, dict[str, str]] | Exception


def ok(body: str) -> Answer:
    return 200, body.encode(), {"Content-Type": "text/plain"}


def status(code: int) -> Answer:
    return code, b"", {}


def redirect(location: str) -> Answer:
    return 302, b"", {"Location": location}


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _document_calls(engine: FakeEngine) -> dict[str, int]:
    """Fetches of linked documents (the site files of their origin, fetched for its robots.txt, left out)."""
    return {url: n for url, n in engine.calls.items() if urlsplit(url).path not in SITE_FILE_PATHS}


#: Site files fetched for an origin's policy (a linked document is fetched only where its robots.txt allows).
SITE_FILE_PATHS = frozenset({"/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"})


class FakeEngine:
    """Test double of `ExecutionEngine.download_async`: answers from `answers` (404 otherwise), counts calls.

    A URL in `gates` waits for its event before answering, so a test can hold a fetch in flight.
    """

    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.gates: dict[str, asyncio.Event] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[Request] = []

    async def download_async(self, request: Request) -> Response:
        self.calls[request.url] += 1
        self.requests.append(request)
        await asyncio.sleep(0)  # a real download never answers synchronously
        gate = self.gates.get(request.url)
        if gate is not None:
            await gate.wait()
        answer = self.answers.get(request.url, status(404))
        if isinstance(answer, Exception):
            raise answer
        code, body, headers = answer
        return TextResponse(
            request.url, status=code, body=body, headers=headers, request=request, encoding="utf-8"
        )


def make_cache(engine: FakeEngine, clock: FakeClock | None = None, **kwargs: Any) -> tuple[SiteCache, Any]:
    """A SiteCache on a real crawler (settings, signals, stats) whose engine is `engine`."""
    crawler = get_crawler(
        settings_dict={"CONSENT_SITEFILE_TTL": TTL, "CONSENT_UNREACHABLE_TTL": UNREACHABLE_TTL}
    )
    crawler.engine = engine
    cache = SiteCache(crawler, consent_settings(crawler.settings), clock=clock or FakeClock(), **kwargs)
    return cache, crawler


def run(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run one scenario on a fresh asyncio loop (Scrapy's asyncio reactor runs the same loop type)."""
    return asyncio.run(make())


# --- TTLs ------------------------------------------------------------------------------------------------------


def test_ok_site_files_cached_for_sitefile_ttl_then_fetched_again() -> None:
    engine = FakeEngine({ROBOTS: ok("User-agent: *\nDisallow: /private/\n")})
    clock = FakeClock()
    cache, _ = make_cache(engine, clock)

    async def scenario() -> list[Counter[str]]:
        seen = []
        first = await cache.policy(ORIGIN)
        assert first.access(f"{ORIGIN}/private/x")[0] is Verdict.DENY
        assert first.access(f"{ORIGIN}/public")[0] is Verdict.ALLOW
        seen.append(Counter(engine.calls))
        clock.advance(TTL - 1)
        assert await cache.policy(ORIGIN) is first
        seen.append(Counter(engine.calls))
        engine.answers[ROBOTS] = ok("User-agent: *\nDisallow: /\n")
        clock.advance(1)
        again = await cache.policy(ORIGIN)
        assert again is not first
        assert again.access(f"{ORIGIN}/public")[0] is Verdict.DENY  # the new file applies
        seen.append(Counter(engine.calls))
        return seen

    fresh, cached, expired = run(scenario)
    assert fresh == {ROBOTS: 1, f"{ORIGIN}/ai.txt": 1, f"{ORIGIN}/.well-known/tdmrep.json": 1}
    assert cached == fresh
    assert expired == dict.fromkeys(fresh, 2)


@pytest.mark.parametrize(
    "failure", [status(503), status(429), ConnectionRefusedError("refused")], ids=["503", "429", "exception"]
)
def test_unreachable_cached_only_for_unreachable_ttl(failure: Answer) -> None:
    engine = FakeEngine({ROBOTS: failure})
    clock = FakeClock()
    cache, _ = make_cache(engine, clock)

    async def scenario() -> tuple[SitePolicy, SitePolicy, SitePolicy]:
        first = await cache.policy(ORIGIN)
        clock.advance(UNREACHABLE_TTL - 1)
        cached = await cache.policy(ORIGIN)
        assert engine.calls[ROBOTS] == 1
        engine.answers[ROBOTS] = ok("User-agent: *\nAllow: /\n")
        clock.advance(1)
        return first, cached, await cache.policy(ORIGIN)

    first, cached, recovered = run(scenario)
    assert cached is first
    assert first.documents.robots.status is FetchStatus.UNREACHABLE
    assert first.access(f"{ORIGIN}/page")[0] is Verdict.DENY  # complete disallow (RFC 9309 §2.3.1.4)
    assert engine.calls[ROBOTS] == 2  # fetched again after the short TTL, long before CONSENT_SITEFILE_TTL
    assert recovered.documents.robots.status is FetchStatus.OK
    assert recovered.access(f"{ORIGIN}/page")[0] is Verdict.ALLOW


def test_one_unreachable_site_file_shortens_the_whole_origin_ttl() -> None:
    engine = FakeEngine({ROBOTS: ok("User-agent: *\nAllow: /\n"), f"{ORIGIN}/ai.txt": status(500)})
    clock = FakeClock()
    cache, _ = make_cache(engine, clock)

    async def scenario() -> None:
        await cache.policy(ORIGIN)
        clock.advance(UNREACHABLE_TTL)
        await cache.policy(ORIGIN)

    run(scenario)
    assert engine.calls[ROBOTS] == 2


def test_unreachable_document_is_refetched_after_unreachable_ttl_ok_one_is_not() -> None:
    good, bad = f"{ORIGIN}/licence.xml", f"{ORIGIN}/down.xml"
    engine = FakeEngine({good: ok("<rsl/>"), bad: status(502)})
    clock = FakeClock()
    cache, _ = make_cache(engine, clock)

    async def scenario() -> dict[str, Any]:
        await cache.documents([good, bad], "licence")
        clock.advance(UNREACHABLE_TTL)
        return await cache.documents([good, bad], "licence")

    found = run(scenario)
    assert _document_calls(engine) == {good: 1, bad: 2}
    assert found[good].status is FetchStatus.OK
    assert found[bad].status is FetchStatus.UNREACHABLE


# --- one fetch for concurrent callers ----------------------------------------------------------------------------


def test_concurrent_policy_calls_await_one_fetch_per_site_file() -> None:
    engine = FakeEngine({ROBOTS: ok("User-agent: *\nDisallow: /x\n")})
    cache, _ = make_cache(engine)

    async def scenario() -> list[SitePolicy]:
        engine.gates[ROBOTS] = asyncio.Event()
        waiting = [asyncio.ensure_future(cache.policy(ORIGIN)) for _ in range(25)]
        await asyncio.sleep(0.01)
        assert not any(task.done() for task in waiting)  # all of them wait on the one robots.txt fetch
        engine.gates[ROBOTS].set()
        return await asyncio.gather(*waiting)

    policies = run(scenario)
    assert len({id(p) for p in policies}) == 1
    assert engine.calls == {ROBOTS: 1, f"{ORIGIN}/ai.txt": 1, f"{ORIGIN}/.well-known/tdmrep.json": 1}


def test_concurrent_documents_calls_await_one_fetch_per_url() -> None:
    urls = [f"{ORIGIN}/l{i}.xml" for i in range(3)]
    engine = FakeEngine({url: ok("<rsl/>") for url in urls})
    cache, _ = make_cache(engine)

    async def scenario() -> list[dict[str, Any]]:
        return await asyncio.gather(*(cache.documents([*urls, urls[0]], "licence") for _ in range(10)))

    results = run(scenario)
    assert _document_calls(engine) == dict.fromkeys(urls, 1)
    assert all(list(found) == urls for found in results)  # asked-for order, duplicates folded


def test_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    engine = FakeEngine({ROBOTS: ok("User-agent: *\nAllow: /\n")})
    cache, _ = make_cache(engine)

    async def scenario() -> SitePolicy:
        engine.gates[ROBOTS] = asyncio.Event()
        impatient = asyncio.ensure_future(cache.policy(ORIGIN))
        patient = asyncio.ensure_future(cache.policy(ORIGIN))
        await asyncio.sleep(0.01)
        impatient.cancel()
        engine.gates[ROBOTS].set()
        return await patient

    assert run(scenario).documents.robots.status is FetchStatus.OK
    assert engine.calls[ROBOTS] == 1


# --- bounded size ------------------------------------------------------------------------------------------------


def _doc(name: str) -> str:
    return f"{ORIGIN}/{name}.xml"


def test_least_recently_used_entry_evicted_beyond_the_bound_and_fetched_again() -> None:
    engine = FakeEngine({_doc(n): ok(n) for n in "abcd"})
    cache, _ = make_cache(engine, max_entries=4)  # three documents and their origin's site policy

    async def scenario() -> None:
        for name in "abc":
            await cache.documents([_doc(name)])
        await cache.documents([_doc("a")])  # a is now the most recently used: b is the oldest
        await cache.documents([_doc("d")])  # one over the bound: b goes
        await cache.documents([_doc("a"), _doc("c"), _doc("d")])
        assert _document_calls(engine) == {_doc(n): 1 for n in "abcd"}
        await cache.documents([_doc("b")])  # evicted, so fetched again (and now c is the oldest)

    run(scenario)
    assert _document_calls(engine) == {_doc("a"): 1, _doc("b"): 2, _doc("c"): 1, _doc("d"): 1}


def test_origins_count_against_the_bound() -> None:
    origins = [f"http://o{i}.test" for i in range(3)]
    engine = FakeEngine()
    cache, _ = make_cache(engine, max_entries=2)

    async def scenario() -> None:
        for origin in origins:
            await cache.policy(origin)
        await cache.policy(origins[2])
        await cache.policy(origins[1])
        await cache.policy(origins[0])  # evicted by the third origin

    run(scenario)
    robots = Counter({url: n for url, n in engine.calls.items() if url.endswith("/robots.txt")})
    assert robots == {
        f"{origins[0]}/robots.txt": 2,
        f"{origins[1]}/robots.txt": 1,
        f"{origins[2]}/robots.txt": 1,
    }


def test_in_flight_entry_is_never_evicted() -> None:
    slow = _doc("slow")
    engine = FakeEngine({slow: ok("slow"), **{_doc(n): ok(n) for n in "abcdef"}})
    cache, _ = make_cache(engine, max_entries=1)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        engine.gates[slow] = asyncio.Event()
        first = asyncio.ensure_future(cache.documents([slow]))
        await asyncio.sleep(0.01)
        for name in "abcdef":  # far beyond the bound while `slow` is still being fetched
            await cache.documents([_doc(name)])
        second = asyncio.ensure_future(cache.documents([slow]))  # joins the fetch still in flight
        await asyncio.sleep(0.01)
        assert not first.done()
        engine.gates[slow].set()
        return await first, await second

    first, second = run(scenario)
    assert engine.calls[slow] == 1
    assert first[slow] is second[slow]
    assert first[slow].body == b"slow"


def test_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        make_cache(FakeEngine(), max_entries=0)


# --- status rules and redirects ----------------------------------------------------------------------------------


def _redirect_chain(hops: int) -> dict[str, Answer]:
    """robots.txt → /r1 → … → /r{hops}; /r{hops} answers 200. Locations are relative (resolved by the cache)."""
    chain: dict[str, Answer] = {ROBOTS: redirect("/r1")}
    for i in range(1, hops):
        chain[f"{ORIGIN}/r{i}"] = redirect(f"r{i + 1}")
    chain[f"{ORIGIN}/r{hops}"] = ok("User-agent: *\nDisallow: /followed/\n")
    return chain


def test_five_redirects_are_followed_by_hand() -> None:
    engine = FakeEngine(_redirect_chain(5))
    cache, _ = make_cache(engine)
    policy = run(lambda: cache.policy(ORIGIN))
    robots = policy.documents.robots
    assert robots.status is FetchStatus.OK
    assert robots.url == ROBOTS  # the file keeps the URL it was asked for
    assert policy.access(f"{ORIGIN}/followed/x")[0] is Verdict.DENY
    assert sum(n for url, n in engine.calls.items() if "/r" in url.removeprefix(ORIGIN)) == 6
    sent = next(r for r in engine.requests if r.url == ROBOTS)
    assert sent.meta["dont_redirect"] is True  # Scrapy's RedirectMiddleware is kept out of it
    assert sent.meta["handle_httpstatus_all"] is True


def test_six_redirects_are_unreachable() -> None:
    engine = FakeEngine(_redirect_chain(6))
    cache, _ = make_cache(engine)
    policy = run(lambda: cache.policy(ORIGIN))
    assert policy.documents.robots.status is FetchStatus.UNREACHABLE
    assert "more than 5 redirects" in policy.documents.robots.detail
    assert engine.calls[f"{ORIGIN}/r6"] == 0  # the sixth redirect is not followed
    assert policy.access(f"{ORIGIN}/page")[0] is Verdict.DENY


@pytest.mark.parametrize("code", [401, 403, 404, 410])
def test_4xx_is_unavailable_and_allows_all(code: int) -> None:
    engine = FakeEngine({ROBOTS: status(code)})
    cache, crawler = make_cache(engine)
    policy = run(lambda: cache.policy(ORIGIN))
    assert policy.documents.robots.status is FetchStatus.UNAVAILABLE
    assert policy.documents.robots.http_status == code
    assert policy.access(f"{ORIGIN}/anything")[0] is Verdict.ALLOW
    assert crawler.stats.get_value("consent/sitefile/robots.txt/unavailable") == 1


def test_download_exception_is_unreachable_never_an_empty_allow_all_file() -> None:
    engine = FakeEngine({ROBOTS: TimeoutError("took too long")})
    cache, crawler = make_cache(engine)
    failures: list[dict[str, Any]] = []

    def on_failure(**kwargs: Any) -> None:
        failures.append(kwargs)

    crawler.signals.connect(on_failure, signal=consent_fetch_failed)
    policy = run(lambda: cache.policy(ORIGIN))
    robots = policy.documents.robots
    assert robots.status is FetchStatus.UNREACHABLE
    assert robots.body == b""
    assert "TimeoutError: took too long" in robots.detail
    assert policy.access(f"{ORIGIN}/anything")[0] is Verdict.DENY
    assert [(f["url"], f["detail"]) for f in failures] == [(ROBOTS, "TimeoutError: took too long")]
    assert crawler.stats.get_value("consent/sitefile/robots.txt/unreachable") == 1
