"""The hostile web against `check` and `crawl`: schemes, addresses, redirects, deadlines, bombs (issue 10).

Every server is on loopback. "Another address" is 127.0.0.2 (a loopback address the start URLs are not on);
names are mapped to addresses by an injected resolver, so no test sends a packet beyond 127.0.0.0/8. A canary
file outside any web root must never appear in any output, and the `ftp://`/127.0.0.2 listeners must never
be dialled.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from consentry.crawler.check.checker import Checker, CheckResult
from consentry.crawler.check.sources import HttpSource
from consentry.crawler.cli import main
from consentry.crawler.demo.server import Route, SiteServer
from consentry.middlewares.adapters.addresses import FetchGuard, TargetRefused, address_refusal
from consentry.policies.config import PolicyConfig
from consentry.policies.model import FetchStatus
from tests.crawler._audit import run_audit
from tests.crawler._helpers import ROOT, html, jpeg, run_crawl

CANARY = "CANARY-7f3a-never-in-output"


class Listener:
    """A bare TCP listener that records whether anything connected to it (it never answers)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.host, self.port = self.sock.getsockname()[:2]

    def dialled(self) -> bool:
        try:
            connection, _ = self.sock.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "secret" / "canary.txt"
    path.parent.mkdir()
    path.write_text(f"User-agent: *\nAllow: /\n# {CANARY}\n")
    return path


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def _redirect(location: str) -> Route:
    return Route(302, (("Location", location),))


def _check_in_process(url: str) -> tuple[Checker, CheckResult]:
    """`url` checked by a `Checker` over the live source (loopback allowed), and the checker (its answers)."""
    source = HttpSource("consentry", guard=FetchGuard(allow_private=True))
    try:
        checker = Checker(source, PolicyConfig())
        return checker, checker.check(url)
    finally:
        source.close()


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", "--json", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- addresses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
    ("169.254.169.254", "link-local"), ("::1", "loopback"), ("fd00::1", "private"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"),
    ("::ffff:10.0.0.1", "private"),
])  # fmt: skip
def test_non_public_addresses_are_named(address: str, kind: str) -> None:
    assert address_refusal(address) == f"{kind} address {address}"


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


def test_guard_allows_only_the_users_own_addresses_and_the_setting_allows_all() -> None:
    names = {"site.test": ["127.0.0.1"], "internal.test": ["10.0.0.1"], "meta.test": ["169.254.169.254"]}
    guard = FetchGuard(resolve=names.__getitem__)
    guard.allow_urls(["http://site.test/start"])
    assert guard.addresses("site.test") == ["127.0.0.1"]
    for host in ("internal.test", "meta.test"):
        with pytest.raises(TargetRefused, match=f"{host} resolves to"):
            guard.addresses(host)
    with pytest.raises(TargetRefused, match="scheme 'file'"):
        guard.check_url("file:///etc/passwd")
    assert FetchGuard(allow_private=True, resolve=names.__getitem__).addresses("internal.test") == ["10.0.0.1"]


def test_check_refuses_a_name_resolving_to_a_private_address_before_connecting() -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return {"internal.test": ["10.0.0.1"], "metadata.test": ["169.254.169.254"]}[host]

    source = HttpSource("consentry", guard=FetchGuard(resolve=resolve), deadline=5)
    try:
        for host, kind in (("internal.test", "private"), ("metadata.test", "link-local")):
            site_file = source.site_file(f"http://{host}/robots.txt", 1000)
            assert site_file.status is FetchStatus.UNREACHABLE
            assert f"{host} resolves to {kind} address" in site_file.detail
            assert "resolves to" in str(source.asset(f"http://{host}/a.jpg", 1000))
    finally:
        source.close()
    assert asked == ["internal.test", "internal.test", "metadata.test", "metadata.test"]


def test_check_redirect_to_another_loopback_address_is_refused_unless_allowed(
        servers: list[SiteServer], listeners: list[Listener], capsys: pytest.CaptureFixture[str]) -> None:
    inside = Listener("127.0.0.2")
    listeners.append(inside)
    target = f"http://127.0.0.2:{inside.port}/x.jpg"
    site = SiteServer({"/a.jpg": _redirect(target), "/robots.txt": Route.text("User-agent: *\nAllow: /\n")}).start()
    servers.append(site)
    code, output = _check(capsys, site.url("/a.jpg"))
    assert code == 1  # FINDING: the URL could not be fetched
    assert "127.0.0.2 resolves to loopback address 127.0.0.2" in output
    assert not inside.dialled()
    source = HttpSource("consentry", guard=FetchGuard(allow_private=True), timeout=0.5, deadline=1)
    try:
        source.asset(site.url("/a.jpg"), 1000)  # the listener never answers: a read timeout
    finally:
        source.close()
    assert inside.dialled()  # the same redirect, allowed: the listener proves the refusal above was real


# --- schemes -------------------------------------------------------------------------------------------------


def test_check_never_follows_robots_txt_to_file_or_ftp(servers: list[SiteServer], listeners: list[Listener],
                                                     canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ftp = Listener()
    listeners.append(ftp)
    for location in (canary.as_uri(), f"ftp://127.0.0.1:{ftp.port}/robots.txt", "data:text/plain,Allow:%20/"):
        site = SiteServer({"/robots.txt": _redirect(location), "/a.jpg": jpeg()}).start()
        servers.append(site)
        _, output = _check(capsys, site.url("/a.jpg"))
        record = json.loads(output[: output.rindex("]") + 1])[0]
        assert record["action"] == "skip", output  # robots.txt unreachable: complete disallow (RFC 9309)
        assert "/a.jpg" not in site.requested
        assert CANARY not in output
        assert "is not http(s)" in json.dumps(record) or "redirects to an unusable URL" in json.dumps(record)
    assert not ftp.dialled()


def test_check_asset_redirect_to_file_is_not_followed(servers: list[SiteServer], canary: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    site = SiteServer({"/a.jpg": _redirect(canary.as_uri()), "/robots.txt": Route.text("User-agent: *\n")}).start()
    servers.append(site)
    code, output = _check(capsys, site.url("/a.jpg"))
    assert code == 1  # FINDING: the URL could not be fetched
    assert "scheme 'file'" in output
    assert CANARY not in output


# --- robots.txt for every hop and every linked document ----------------------------------------------------


def test_check_redirect_target_is_checked_against_its_own_robots_txt(servers: list[SiteServer],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    other = SiteServer({"/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
                        "/private/b.jpg": jpeg()}).start()
    servers.append(other)
    site = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                       "/a.jpg": _redirect(other.url("/private/b.jpg"))}).start()
    servers.append(site)
    code, output = _check(capsys, site.url("/a.jpg"))
    assert code == 1  # FINDING: the URL could not be fetched
    assert f"refused by robots.txt of {other.origin}" in output
    assert "/private/b.jpg" not in other.requested
    assert "/robots.txt" in other.requested


def test_licence_on_a_host_whose_robots_txt_disallows_it_is_not_fetched(servers: list[SiteServer]) -> None:
    host = SiteServer({"/robots.txt": Route.text("User-agent: *\nDisallow: /licences/\n"),
                       "/licences/l.xml": Route.text("<rsl/>", "application/rsl+xml")}).start()
    servers.append(host)
    licence = host.url("/licences/l.xml")
    site = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                       "/a.jpg": jpeg(("Link", f'<{licence}>; rel="license"; type="application/rsl+xml"'))}).start()
    servers.append(site)
    checker, result = _check_in_process(site.url("/a.jpg"))
    assert result.decision is not None
    assert "/licences/l.xml" not in host.requested
    document = checker._documents[licence]  # the answer the core received
    assert document.status is FetchStatus.UNREACHABLE
    assert f"refused by robots.txt of {host.origin}" in document.detail
    assert result.decision.action.value != "keep" or "rsl" not in json.dumps(result.decision.to_record())


# --- bounds ---------------------------------------------------------------------------------------------------


def test_check_cuts_a_slow_drip_robots_txt_at_the_total_deadline(servers: list[SiteServer]) -> None:
    site = SiteServer({"/robots.txt": Route(200, (("Content-Type", "text/plain"), ("Content-Length", "100000")),
                                            b"User-agent: *\n", fault="drip", delay=0.05)}).start()
    servers.append(site)
    source = HttpSource("consentry", timeout=5, deadline=1.0, guard=FetchGuard(allow_private=True))
    started = time.monotonic()
    try:
        site_file = source.site_file(site.url("/robots.txt"), 500_000)
    finally:
        source.close()
    assert site_file.status is FetchStatus.UNREACHABLE
    assert "total deadline of 1 s exceeded" in site_file.detail
    assert time.monotonic() - started < 10  # per-read timeouts alone would never end: every read succeeds


def test_check_deadline_option_sets_the_total_deadline(servers: list[SiteServer],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    site = SiteServer({"/robots.txt": Route(200, (("Content-Type", "text/plain"), ("Content-Length", "100000")),
                                            b"User-agent: *\n", fault="drip", delay=0.05)}).start()
    servers.append(site)
    code, output = _check(capsys, "--deadline", "1.5", site.url("/a.jpg"))
    assert code == 1
    assert "total deadline of 1.5 s exceeded" in output


_RSS_PROBE = """
import resource, sys
from consentry.crawler.cli import main
code = main(["check", "--json", *sys.argv[1:]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def _bomb(coding: str, size: int = 1 << 28) -> bytes:
    """`size` zero bytes content-coded, compressed a MiB at a time (the test process never holds them)."""
    block = b"\0" * (1 << 20)
    if coding == "br":
        compressor = brotli.Compressor(quality=1)
        out = b"".join(compressor.process(block) for _ in range(size >> 20))
        return out + compressor.finish()
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)
    return b"".join(gz.compress(block) for _ in range(size >> 20)) + gz.flush()


def _probe_rss(url: str) -> tuple[int, list[dict[str, object]]]:
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, url], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    return int(proc.stderr.strip().splitlines()[-1]), json.loads(proc.stdout)


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_check_decompression_bomb_robots_txt_stays_small(servers: list[SiteServer], coding: str) -> None:
    plain = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"), "/a.jpg": jpeg()}).start()
    servers.append(plain)
    bombed = SiteServer({"/robots.txt": Route(200, (("Content-Type", "text/plain"), ("Content-Encoding", coding)),
                                              _bomb(coding)), "/a.jpg": jpeg()}).start()
    servers.append(bombed)
    baseline_kib, _ = _probe_rss(plain.url("/a.jpg"))
    max_rss_kib, [record] = _probe_rss(bombed.url("/a.jpg"))
    assert record["action"] == "skip"  # robots.txt unreachable: complete disallow
    assert "exceeds" in json.dumps(record)
    assert max_rss_kib - baseline_kib < 64 * 1024, (baseline_kib, max_rss_kib)  # 256 MiB decoded would show


# --- the crawl ------------------------------------------------------------------------------------------------


def test_crawl_never_reads_a_local_file_or_dials_ftp_or_another_address(
        servers: list[SiteServer], listeners: list[Listener], canary: Path, tmp_path: Path) -> None:
    ftp, inside = Listener(), Listener("127.0.0.2")
    listeners += [ftp, inside]
    site = SiteServer({
        "/robots.txt": _redirect(canary.as_uri()),
        "/ai.txt": _redirect(f"ftp://127.0.0.1:{ftp.port}/ai.txt"),
    }).start()
    servers.append(site)
    other = SiteServer({
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
        "/": html('<img src="/a.jpg"><img src="/b.jpg"><img src="/c.jpg">'),
        "/a.jpg": _redirect(canary.as_uri()),
        "/b.jpg": _redirect(f"http://127.0.0.2:{inside.port}/b.jpg"),
        "/c.jpg": jpeg(("Link", f'<http://127.0.0.2:{inside.port}/m.c2pa>; rel="c2pa-manifest"'),
                       ("Link", f'<{canary.as_uri()}>; rel="license"')),
    }).start()
    servers.append(other)
    out = tmp_path / "out"
    result = run_crawl([site.url("/"), other.url("/")], out)
    assert result.returncode == 0, result.stderr[-3000:]
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data, path
            if path.suffix == ".gz":
                import gzip

                assert CANARY.encode() not in gzip.decompress(data), path
    assert CANARY not in result.stderr
    assert not ftp.dialled()
    assert not inside.dialled()
    assert "/" not in site.requested  # robots.txt unreachable: the origin is completely disallowed
    assert "is not http(s)" in result.stderr
    assert "127.0.0.2 resolves to loopback address" in result.stderr
    assert result.decision(other.url("/c.jpg"))["action"] in {"keep", "drop"}
    refused = result.decision(f"http://127.0.0.2:{inside.port}/b.jpg")  # the redirect target: never dialled
    assert (refused["action"], refused["tags"]) == ("skip", ["unverifiable"])
    assert refused["signals"][0]["mechanism"] == "fetch-policy"
    assert f"redirected from {other.url('/b.jpg')}" in refused["signals"][0]["evidence"]


# --- caps on linked documents and on links per page ----------------------------------------------------------


def test_check_fetches_at_most_the_cap_of_manifests_and_licences(servers: list[SiteServer]) -> None:
    manifests = tuple(("Link", f'</m/{n}.c2pa>; rel="c2pa-manifest"') for n in range(2000))
    site = SiteServer({"/a.jpg": jpeg(*manifests)}).start()
    servers.append(site)
    licences = "".join(f"License: {site.url(f'/l/{n}.xml')}\n" for n in range(3000))
    site.set_route("/robots.txt", Route.text(f"User-agent: *\nAllow: /\n{licences}"))
    _, result = _check_in_process(site.url("/a.jpg"))
    assert result.decision is not None
    fetched_licences = [p for p in site.requested if p.startswith("/l/")]
    fetched_manifests = [p for p in site.requested if p.startswith("/m/")]
    assert len(fetched_licences) == 16
    assert len(fetched_manifests) == 16
    assert "CONSENT_MAX_LINKED_PER_RESPONSE" in json.dumps(result.decision.to_record())


_LINKS_PROBE = """
import resource, sys
from scrapy.http import HtmlResponse
from consentry.crawler.spiders.assets import page_links
count = int(sys.argv[1])
body = b"<html><body>" + b"".join(b'<a href="/p%d.html">x</a><img src="/i%d.jpg">' % (n, n) for n in range(count))
response = HtmlResponse("http://127.0.0.1/", body=body + b"</body></html>", encoding="utf-8")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
links = page_links(response)
print(len(links), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_page_links_are_capped_and_memory_stays_flat_on_a_million_links() -> None:
    def probe(count: int) -> tuple[int, int]:
        proc = subprocess.run([sys.executable, "-c", _LINKS_PROBE, str(count)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=True)
        found, grown_kib = proc.stdout.split()
        return int(found), int(grown_kib)

    small_links, small_growth = probe(20_000)
    huge_links, huge_growth = probe(1_000_000)
    assert small_links == huge_links == 10_000
    assert huge_growth - small_growth < 32 * 1024, (small_growth, huge_growth)  # a parsed tree would be ~1 GB


def test_page_links_reads_media_srcset_and_anchors() -> None:
    from scrapy.http import HtmlResponse

    from consentry.crawler.spiders.assets import page_links

    body = (b'<html><head><base href="http://127.0.0.1/b/"></head><body><a href="x.pdf">d</a><a href="p.html">p</a>'
            b'<img src="a.jpg" srcset="s1.jpg 1x, s2.jpg 2x"><video poster="v.png" src="v.mp4"></video>'
            b'<object data="o.svg"></object></body></html>')
    links = page_links(HtmlResponse("http://127.0.0.1/", body=body, encoding="utf-8"))
    assert links == [("http://127.0.0.1/b/a.jpg", True), ("http://127.0.0.1/b/v.mp4", True),
                     ("http://127.0.0.1/b/v.png", True), ("http://127.0.0.1/b/o.svg", True),
                     ("http://127.0.0.1/b/s1.jpg", True), ("http://127.0.0.1/b/s2.jpg", True),
                     ("http://127.0.0.1/b/x.pdf", True), ("http://127.0.0.1/b/p.html", False)]


_CRAWL_RSS_PROBE = """
import resource, sys
from consentry.crawler.cli import main
code = main(["crawl", sys.argv[1], "-o", sys.argv[2]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def test_crawl_brotli_bomb_robots_txt_stays_small(servers: list[SiteServer], tmp_path: Path) -> None:
    def probe(site: SiteServer, name: str) -> int:
        proc = subprocess.run([sys.executable, "-c", _CRAWL_RSS_PROBE, site.url("/"), str(tmp_path / name)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return int(proc.stdout.strip().splitlines()[-1])

    plain = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"), "/": html("<p>hi</p>")}).start()
    servers.append(plain)
    bombed = SiteServer({"/robots.txt": Route(200, (("Content-Type", "text/plain"), ("Content-Encoding", "br")),
                                              _bomb("br")), "/": html("<p>hi</p>")}).start()
    servers.append(bombed)
    baseline_kib, bombed_kib = probe(plain, "plain"), probe(bombed, "bombed")
    assert "/" not in bombed.requested  # robots.txt unreachable: complete disallow
    assert bombed_kib - baseline_kib < 64 * 1024, (baseline_kib, bombed_kib)  # 256 MiB decoded would show


def test_crawl_max_page_links_caps_the_links_read_from_one_page(servers: list[SiteServer], tmp_path: Path) -> None:
    images = "".join(f'<img src="/i{n}.jpg">' for n in range(10))
    site = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"), "/": html(images),
                       **{f"/i{n}.jpg": jpeg() for n in range(10)}}).start()
    servers.append(site)
    result = run_crawl([site.url("/")], tmp_path / "out", "--max-page-links", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p for p in site.requested if p.endswith(".jpg")) == ["/i0.jpg", "/i1.jpg", "/i2.jpg"]
    assert "only the first 3 links read" in result.stderr
    refused = run_crawl([site.url("/")], tmp_path / "out2", "--max-page-links", "0")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == ["consentry: error: --max-page-links must be 1 or more"]


@pytest.mark.parametrize("allowed", [False, True])
def test_crawl_refuses_a_name_resolving_to_another_address_before_connecting(
        servers: list[SiteServer], listeners: list[Listener], tmp_path: Path, allowed: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    inside = Listener("127.0.0.2")
    listeners.append(inside)
    site = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                       "/": html(f'<img src="http://internal.test:{inside.port}/x.jpg">')}).start()
    servers.append(site)
    settings: dict[str, object] = {"TWISTED_DNS_RESOLVER": "tests.crawler._resolver.MappedResolver",
                                   "DOWNLOAD_TIMEOUT": 2}
    if allowed:
        settings["CONSENT_ALLOW_PRIVATE_ADDRESSES"] = True
    result = run_crawl([site.url("/")], tmp_path / "out", settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    assert inside.dialled() is allowed  # allowed, the same name is dialled: the resolver answer is real
    if not allowed:
        assert "internal.test resolves to loopback address 127.0.0.2" in result.stderr
        refused = result.decision(f"http://internal.test:{inside.port}/x.jpg")
        assert (refused["action"], refused["access"], refused["tags"]) == ("skip", "deny", ["unverifiable"])
        assert "internal.test resolves to loopback address 127.0.0.2" in refused["reason"]
        code, out, err = run_audit(capsys, str(result.out / "crawl.warc.gz"))  # replayed from the archived refusal
        assert code == 0, out + err


@pytest.mark.parametrize("dnscache", [True, False])
def test_crawl_never_dials_a_name_that_rebinds_to_a_refused_address(
        servers: list[SiteServer], listeners: list[Listener], tmp_path: Path, dnscache: bool) -> None:
    inside = Listener("127.0.0.2")
    listeners.append(inside)
    site = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
                       "/": html(f'<img src="http://rebind.test:{inside.port}/x.jpg">')}).start()
    servers.append(site)
    settings: dict[str, object] = {"TWISTED_DNS_RESOLVER": "tests.crawler._resolver.RebindingResolver",
                                   "DNSCACHE_ENABLED": dnscache, "DOWNLOAD_TIMEOUT": 2}
    result = run_crawl([site.url("/")], tmp_path / "out", settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not inside.dialled()  # the check saw a public address; the connection's answer was filtered
    assert "rebind.test resolves to loopback address 127.0.0.2" in result.stderr
    decision = result.decision(f"http://rebind.test:{inside.port}/x.jpg")
    assert decision["action"] != "keep"
    assert "rebind.test resolves to loopback address 127.0.0.2" in json.dumps(decision)


def test_crawl_honours_the_licence_hosts_robots_txt(servers: list[SiteServer], tmp_path: Path) -> None:
    host = SiteServer({"/robots.txt": Route.text("User-agent: *\nDisallow: /licences/\n"),
                       "/licences/l.xml": Route.text("<rsl/>", "application/rsl+xml"),
                       "/open/l.xml": Route.text("<rsl/>", "application/rsl+xml")}).start()
    servers.append(host)
    rsl = "application/rsl+xml"
    site = SiteServer({
        "/robots.txt": Route.text(f"User-agent: *\nAllow: /\nLicense: {host.url('/open/l.xml')}\n"),
        "/": html('<img src="/a.jpg">'),
        "/a.jpg": jpeg(("Link", f'<{host.url("/licences/l.xml")}>; rel="license"; type="{rsl}"')),
    }).start()
    servers.append(site)
    result = run_crawl([site.url("/")], tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/licences/l.xml" not in host.requested
    assert "/open/l.xml" in host.requested  # allowed by the host's robots.txt: fetched
    assert host.requested.index("/robots.txt") < host.requested.index("/open/l.xml")
    assert f"refused by robots.txt of {host.origin}" in json.dumps(result.decision(site.url("/a.jpg")))


def _self_licensed_site() -> SiteServer:
    """A site whose robots.txt names, on its own origin, a licence under a path it disallows."""
    site = SiteServer({
        "/private/l.xml": Route.text("<rsl/>", "application/rsl+xml"),
        "/": html('<img src="/a.jpg">'),
        "/a.jpg": jpeg(),
    }).start()
    site.set_route("/robots.txt", Route.text(
        f"User-agent: *\nDisallow: /private/\nLicense: {site.url('/private/l.xml')}\n"))
    return site


def test_crawl_does_not_fetch_a_licence_its_own_robots_txt_disallows(servers: list[SiteServer], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    site = _self_licensed_site()
    servers.append(site)
    result = run_crawl([site.url("/")], tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/private/l.xml" not in site.requested
    assert "/a.jpg" in site.requested
    assert "is disallowed by the robots.txt that names it" in json.dumps(result.decision(site.url("/a.jpg")))
    code, out, err = run_audit(capsys, str(result.out / "crawl.warc.gz"))  # the audit reads it the same way
    assert code == 0, out + err


def test_check_does_not_fetch_a_licence_its_own_robots_txt_disallows(servers: list[SiteServer]) -> None:
    site = _self_licensed_site()
    servers.append(site)
    _, result = _check_in_process(site.url("/a.jpg"))
    assert result.decision is not None
    assert "/private/l.xml" not in site.requested
    assert "is disallowed by the robots.txt that names it" in json.dumps(result.decision.to_record())


# --- one spelling: what is matched is what is requested ------------------------------------------------------


def _dotted_site() -> SiteServer:
    return SiteServer({
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\n"),
        "/": html('<img src="/public/%2e%2e/open/a.jpg"><img src="/public/%2E%2E/private/b.jpg">'
                  '<img src="/open/.%2e/private/c.jpg">'),
        "/open/a.jpg": jpeg(),
        "/private/b.jpg": jpeg(),
        "/private/c.jpg": jpeg(),
    }).start()


def test_crawl_requests_the_normalised_url_it_matched(servers: list[SiteServer], tmp_path: Path) -> None:
    site = _dotted_site()
    servers.append(site)
    result = run_crawl([site.url("/")], tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/open/a.jpg" in site.requested
    assert not [path for path in site.requested if "%2" in path.lower() or "private" in path]
    assert result.decision(site.url("/open/a.jpg"))["action"] == "keep"
    assert {d["action"] for d in result.decisions if "private" in d["url"]} == {"skip"}


def test_check_requests_the_normalised_url_it_matched(servers: list[SiteServer],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    site = _dotted_site()
    servers.append(site)
    _, output = _check(capsys, site.url("/public/%2e%2e/open/a.jpg"), site.url("/public/%2E%2E/private/b.jpg"))
    records = json.loads(output[: output.rindex("]") + 1])
    assert [(r["url"], r["action"]) for r in records] == [(site.url("/open/a.jpg"), "keep"),
                                                          (site.url("/private/b.jpg"), "skip")]
    assert not [path for path in site.requested if "%2" in path.lower() or "private" in path]
