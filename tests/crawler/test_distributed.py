"""Many workers, one crawl (docs/distributed.md): real `redis-server`, real `consentry crawl --redis` worker
processes, loopback sites that log every request.

The end-to-end test runs 3 workers over 3,000 URLs on 30 origins and SIGKILLs one mid-crawl: every URL is
decided, the only URLs decided twice are the killed worker's and the second record says so (`run.attempt`), each
robots.txt is fetched once in the whole cluster, the dataset holds every kept asset (twice only a URL decided
twice), the audit of all workers' files finds no mismatch and the
report of the directory counts each URL once.
Skipped (with the reason) when redis-server is not installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crawler._loopback import LoggingServer, serving
from tests.crawler._redis import RedisServer, free_port, skip_without_redis

pytestmark = [pytest.mark.e2e, skip_without_redis]

ROOT = Path(__file__).resolve().parents[2]
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
PAGE = b"<html><body><p>a page</p></body></html>"
_TEXT = [("Content-Type", "text/plain")]
_HTML = [("Content-Type", "text/html; charset=utf-8")]


class Site:
    """A loopback origin: robots.txt denies /private/, /noai* answers X-Robots-Tag: noai, pages wait `delay`."""

    def __init__(self, delay: float = 0.0, robots: bytes = ROBOTS) -> None:
        self.delay = delay
        self.robots = robots
        self.arrivals: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def answer(self, host: str, path: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.arrivals.append((time.monotonic(), path))
        if path == "/robots.txt":
            return 200, _TEXT, self.robots
        if path == "/ai.txt" or path.startswith("/.well-known/"):
            return 404, _TEXT, b"not found"
        time.sleep(2.0 if path == "/slow.html" else self.delay)
        if path.startswith("/noai"):
            return 200, [*_HTML, ("X-Robots-Tag", "noai")], PAGE
        return 200, _HTML, PAGE

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p in self.arrivals if p == path)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory).start()
    yield server
    server.stop()


def consentry(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentry.crawler.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def worker(redis: str, run: str, name: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "consentry.crawler.cli", "crawl", "--redis", redis, "--run-id", run,
               "--worker-id", name, "-o", str(out), "--set", "CONSENT_ALLOW_PRIVATE_ADDRESSES=true", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def url_list(path: Path, servers: list[LoggingServer], per_origin: int) -> list[str]:
    """Pages, noai pages and robots-denied pages, interleaved across the origins."""
    kinds = ("page{}.html", "noai{}.html", "private/{}.html")
    urls = [f"http://127.0.0.1:{s.port}/{kinds[i % 3].format(i)}" for i in range(per_origin) for s in servers]
    path.write_text("\n".join(urls) + "\n")
    return urls


def records(out: Path) -> list[dict[str, Any]]:
    found = []
    for log in sorted(out.glob("*.decisions.jsonl")):
        found += [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return found


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _finish(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def _dataset_urls(out: Path) -> list[str]:
    urls = []
    for shard in sorted(out.glob("dataset/*/*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".json"):
                    handle = tar.extractfile(member)
                    assert handle is not None
                    urls.append(json.loads(handle.read())["url"])
    return urls


def test_three_workers_one_killed_every_url_decided_once_or_marked(tmp_path: Path, redis_server: RedisServer) -> None:
    """The issue's scale: 3 workers, 3,000 URLs over 30 loopback origins, one worker SIGKILLed mid-crawl."""
    sites = [Site(delay=0.05) for _ in range(30)]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serving(site.answer)) for site in sites]
        urls = url_list(tmp_path / "urls.txt", servers, per_origin=100)
        pushed = consentry("queue", "push", "--redis", redis_server.url, "--run-id", "r1", "--urls",
                           str(tmp_path / "urls.txt"))
        assert pushed.returncode == 0, pushed.stderr
        assert "3000 URLs queued" in pushed.stdout
        out = tmp_path / "out"
        extra = ("--lease-timeout", "2", "--idle-timeout", "2", "--dataset", "webdataset", "--shard-size", "10",
                 "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "--set", "DOWNLOAD_TIMEOUT=5")
        victim = worker(redis_server.url, "r1", "w1", out, *extra)
        origins = {f"http://127.0.0.1:{s.port}" for s in servers}

        def victim_decided_on_every_origin() -> bool:
            log = out / "r1.w1.decisions.jsonl"
            seen = [json.loads(line)["url"] for line in log.read_text().splitlines()] if log.exists() else []
            return {u.rsplit("/", 1)[0].replace("/private", "") for u in seen} >= origins and len(seen) >= 60

        _wait_for(victim_decided_on_every_origin, 300, "the first worker's decisions")
        others = [worker(redis_server.url, "r1", name, out, *extra) for name in ("w2", "w3")]
        held = redis_server.client().hvals("consentry:r1:owners")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert b"w1" in held  # it died holding leases
        for process in others:
            code, _stdout, stderr = _finish(process, timeout=900)
            assert code == 0, stderr[-3000:]
        status = json.loads(consentry("queue", "status", "--redis", redis_server.url, "--run-id", "r1",
                                      "--json").stdout)
        for site, server in zip(sites, servers, strict=True):
            assert site.count("/robots.txt") == 1, f"robots.txt of port {server.port} fetched more than once"

    assert (status["pending"], status["in_flight"], status["done"]) == (0, 0, 3000)
    assert status["requeued"] >= 1
    decided = records(out)
    assert {r["url"] for r in decided} == set(urls)
    by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in decided:
        by_url[record["url"]].append(record)
    twice = {url: rs for url, rs in by_url.items() if len(rs) > 1}
    for url, rs in twice.items():
        assert len(rs) == 2, (url, rs)
        workers = sorted((r["run"]["worker"], r["run"]["attempt"]) for r in rs)
        assert workers[0] == ("w1", 1), workers
        assert workers[1][0] in ("w2", "w3"), workers
        assert workers[1][1] >= 2, workers
    assert all(r["run"]["worker"] != "w1" for r in decided if r["run"]["attempt"] > 1)
    assert Counter(r["run"]["id"] for r in decided) == {"r1": len(decided)}
    robots_digest = hashlib.sha256(ROBOTS).hexdigest()
    for record in decided:
        origin = record["url"].split("/", 3)[:3]
        assert record["run"]["sitefiles"]["/".join(origin) + "/robots.txt"] == robots_digest

    kept = {url for url, rs in by_url.items() if any(r["action"] == "keep" for r in rs)}
    assert kept == {url for url in urls if "/page" in url}
    in_dataset = _dataset_urls(out)
    assert set(in_dataset) == kept  # every kept asset published, the killed worker's open shard redone
    # in two shards only a URL decided twice (its later record marked), when the kill fell between publishing a
    # shard and acknowledging it
    written = Counter(in_dataset)
    assert {url for url, n in written.items() if n > 1} <= set(twice)
    assert max(written.values()) <= 2

    audit = consentry("audit", str(out))
    assert audit.returncode == 0, audit.stdout[-2000:] + audit.stderr[-2000:]
    assert "mismatches: 0" in audit.stdout
    again = sum(r["run"]["attempt"] > 1 for r in decided)
    assert again >= 1
    latest = Counter(max(rs, key=lambda r: r["run"]["attempt"])["action"] for rs in by_url.values())
    assert (f"distributed run: {again} records decided again after a worker died (run.attempt > 1); each URL "
            f"once (its latest attempt): kept {latest['keep']}, dropped {latest['drop']}, skipped {latest['skip']}"
            ) in audit.stdout
    assert sum(latest.values()) == len(urls)

    made = consentry("report", str(out), "--json", timeout=600)  # every worker's files, each URL once
    assert made.returncode == 0, made.stderr[-2000:]
    report = json.loads(made.stdout)
    once = {action: latest[action] for action in ("keep", "drop", "skip")}
    assert report["decisions"] == {"total": len(urls), **once, "superseded_attempts": len(twice)}
    assert report["audit"]["status"] == "reproduced", report["audit"]
    assert report["audit"]["would_be"] == once
    assert report["audit"]["command"] == f"consentry audit {out}"
    assert report["crawler"]["requests_archived"] >= sum("/private/" not in url for url in urls)  # all fetched


def test_refused_before_anything_is_written(tmp_path: Path, redis_server: RedisServer) -> None:
    out = tmp_path / "out"
    closed = f"redis://127.0.0.1:{free_port()}/0"
    cases = {
        ("--redis", closed, "--run-id", "r"): "cannot use this Redis server",
        ("--redis", "http://127.0.0.1:6379/", "--run-id", "r"): "expected redis://HOST:PORT/DB",
        ("--redis", redis_server.url): "--redis needs --run-id",
        ("--redis", redis_server.url, "--run-id", "never-pushed"): "does not exist",
        ("--redis", redis_server.url, "--run-id", "bad/id"): "a run id is",
    }
    for args, message in cases.items():
        result = consentry("crawl", *args, "-o", str(out))
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 or "usage:" in result.stderr, result.stderr
        assert not out.exists(), args
    push = consentry("queue", "push", "--redis", closed, "--run-id", "r", "--urls", str(tmp_path / "none.txt"))
    assert push.returncode == 2
    (tmp_path / "one.txt").write_text("http://127.0.0.1:9/x\n")
    push = consentry("queue", "push", "--redis", closed, "--run-id", "r", "--urls", str(tmp_path / "one.txt"))
    assert push.returncode == 2
    assert "cannot use this Redis server" in push.stderr
    status = consentry("queue", "status", "--redis", redis_server.url, "--run-id", "nothing")
    assert status.returncode == 2
    assert "does not exist" in status.stderr


def test_a_worker_with_another_policy_is_refused(tmp_path: Path, redis_server: RedisServer) -> None:
    site = Site()
    with serving(site.answer) as server:
        urls = url_list(tmp_path / "urls.txt", [server], per_origin=3)
        slow = f"http://127.0.0.1:{server.port}/slow.html"  # a download error: acknowledged, not decided
        with (tmp_path / "urls.txt").open("a") as listed:
            listed.write(slow + "\n")
        out = tmp_path / "out"
        first = worker(redis_server.url, "r2", "w1", out, "--urls", str(tmp_path / "urls.txt"), "--idle-timeout", "1",
                       "--set", "DOWNLOAD_TIMEOUT=1", "--set", "RETRY_ENABLED=false")
        code, stdout, stderr = _finish(first)
        assert code == 0, stderr[-2000:]
        assert "warning: the Redis server has no persistence" in stderr  # the fixture's server keeps nothing
        assert "not fetched (download errors): 1 timeout" in stdout, stdout
        assert {r["url"] for r in records(out)} == set(urls)
        status = json.loads(consentry("queue", "status", "--redis", redis_server.url, "--run-id", "r2", "--json").stdout)
        assert (status["pending"], status["in_flight"], status["done"]) == (0, 0, 4)
        other = consentry("crawl", "--redis", redis_server.url, "--run-id", "r2", "--worker-id", "w2", "-o", str(out),
                          "--purpose", "search")
    assert other.returncode == 2
    assert "config_sha256" in other.stderr
    assert "a worker must decide under the run's policy" in other.stderr
    assert not list(out.glob("r2.w2.*"))
    meta = redis_server.client().hgetall("consentry:r2:meta")
    assert meta[b"config_sha256"] == records(out)[0]["policy"]["config_sha256"].encode()


def test_push_skips_bad_rows_and_urls_the_run_has(tmp_path: Path, redis_server: RedisServer) -> None:
    (tmp_path / "a.txt").write_text("http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\nftp://x/y\nhttp://127.0.0.1:9/a\n")
    (tmp_path / "b.txt").write_text("http://127.0.0.1:9/b\nhttp://127.0.0.1:9/c\n")
    first = consentry("queue", "push", "--redis", redis_server.url, "--run-id", "r3", "--urls", str(tmp_path / "a.txt"))
    assert first.returncode == 0, first.stderr
    assert "2 URLs queued, 0 already in the run" in first.stdout
    assert "4 rows read; skipped: 1 not http(s), 1 duplicate" in first.stdout
    second = consentry("queue", "push", "--redis", redis_server.url, "--run-id", "r3", "--urls",
                       str(tmp_path / "b.txt"))
    assert "1 URLs queued, 1 already in the run" in second.stdout
    status = consentry("queue", "status", "--redis", redis_server.url, "--run-id", "r3", "--json")
    assert status.returncode == 0
    counts = json.loads(status.stdout)
    assert counts["schema"] == "consentry.queue-status/1"
    assert (counts["pending"], counts["in_flight"], counts["done"]) == (3, 0, 0)
    human = consentry("queue", "status", "--redis", redis_server.url, "--run-id", "r3")
    assert human.stdout.startswith("run r3: 3 pending, 0 in flight, 0 done")
    closed = free_port()  # robots.txt unreachable: each URL is a `skip`, decided without a page fetch
    client = redis_server.client()
    rows = [json.loads(row) for row in client.lrange("consentry:r3:pending", 0, -1)]
    client.delete("consentry:r3:pending")
    client.rpush("consentry:r3:pending", *(json.dumps({**row, "url": row["url"].replace(":9/", f":{closed}/")})
                                           for row in rows))
    limited = worker(redis_server.url, "r3", "w1", tmp_path / "out", "--max-requests", "2", "--idle-timeout", "1")
    code, _, stderr = _finish(limited)
    assert code == 0, stderr[-2000:]
    assert [r["action"] for r in records(tmp_path / "out")] == ["skip", "skip"]
    after = json.loads(consentry("queue", "status", "--redis", redis_server.url, "--run-id", "r3", "--json").stdout)
    assert (after["pending"], after["in_flight"], after["done"]) == (1, 0, 2)  # --max-requests: 2 leased, then stop


def test_crawl_delay_holds_across_workers(tmp_path: Path, redis_server: RedisServer) -> None:
    site = Site(robots=b"User-agent: *\nAllow: /\nCrawl-delay: 1\n")
    with serving(site.answer) as server:
        (tmp_path / "urls.txt").write_text("".join(f"http://127.0.0.1:{server.port}/page{i}.html\n" for i in range(4)))
        assert consentry("queue", "push", "--redis", redis_server.url, "--run-id", "r4", "--urls",
                         str(tmp_path / "urls.txt")).returncode == 0
        out = tmp_path / "out"
        workers = [worker(redis_server.url, "r4", name, out, "--idle-timeout", "1") for name in ("w1", "w2")]
        for process in workers:
            code, _, stderr = _finish(process)
            assert code == 0, stderr[-2000:]
    pages = sorted(t for t, path in site.arrivals if path.startswith("/page"))
    assert len(pages) == 4
    assert len(records(out)) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(pages)]
    assert min(gaps) >= 0.95, gaps  # one Crawl-delay between any two requests of the cluster


@pytest.mark.parametrize("persistent", [True, False], ids=["persistent", "no-persistence"])
def test_redis_restarted_mid_crawl(tmp_path: Path, persistent: bool) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    redis_server = RedisServer(directory, persistent=persistent).start()
    try:
        site = Site(delay=0.1)
        with serving(site.answer) as server:
            urls = [f"http://127.0.0.1:{server.port}/page{i}.html" for i in range(30)]
            (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
            assert consentry("queue", "push", "--redis", redis_server.url, "--run-id", "r5", "--urls",
                             str(tmp_path / "urls.txt")).returncode == 0
            out = tmp_path / "out"
            process = worker(redis_server.url, "r5", "w1", out, "--idle-timeout", "1", "--lease-timeout", "3",
                             "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "--set", "CONSENT_REDIS_RETRY=10")
            log = out / "r5.w1.decisions.jsonl"
            _wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 5, 60, "five decisions")
            redis_server.restart()
            code, _, stderr = _finish(process)
    finally:
        redis_server.stop()
    decided = records(out)
    if persistent:  # reconnected: the run goes on and ends complete
        assert code == 0, stderr[-3000:]
        assert "no persistence" not in stderr
        assert {r["url"] for r in decided} == set(urls)
        attempts: dict[str, list[int]] = defaultdict(list)
        for record in decided:
            attempts[record["url"]].append(record["run"]["attempt"])
        assert all(sorted(a)[1:] and max(a) > 1 for a in attempts.values() if len(a) > 1), attempts
    else:  # the run's state is gone: a clear error and an early stop, never a decision without the queue
        assert code == 1, stderr[-3000:]
        assert "is gone from Redis" in stderr
        assert "redis_run_lost" in stderr
        assert len(decided) <= 15 < len(urls)  # leased but not yet requested when Redis lost the run: not decided
