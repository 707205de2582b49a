"""`consentry report DIR` on the demo crawl: JSON counts recomputed here from decisions.jsonl and the WARC, audit
numbers equal to `consentry audit`'s, the HTML page opened in real headless Chromium; bad input named exactly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.crawler._helpers import ROOT, read_warc

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: mechanism -> protocol name, written out here rather than read from the package under test.
_PROTOCOL = {
    "robots": "robots.txt", "robots-inferred": "AI-crawler groups in robots.txt",
    "robots-content-usage": "AI preferences (Content-Usage)", "content-usage-header": "AI preferences (Content-Usage)",
    "robots-content-signal": "Content Signals", "content-signal-header": "Content Signals",
    "robots-disallow-ai-training": "DisallowAITraining", "ai-txt": "ai.txt",
    "tdmrep-file": "TDMRep", "tdmrep-header": "TDMRep", "tdmrep-html": "TDMRep", "tdmrep-pdf": "TDMRep",
    "tdmrep-epub": "TDMRep", "robots-license": "RSL", "rsl": "RSL", "x-robots-tag": "noai / noimageai",
    "meta-robots": "noai / noimageai", "page-inherited": "noai / noimageai",
    "c2pa": "C2PA / CAWG training-and-data-mining", "iptc-xmp": "IPTC Data Mining", "registry": "Works registry",
    "excluded-domain": "Excluded domains", "access-restriction": "Access restrictions", "fetch-policy": "Fetch policy",
}  # fmt: skip


def consentry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentry.crawler.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "demo"
    done = consentry("demo", "-o", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def report(demo: Path) -> dict[str, Any]:
    done = consentry("report", str(demo), "--json", "--html", str(demo / "report.html"))
    assert done.returncode == 0, done.stderr
    value: dict[str, Any] = json.loads(done.stdout)
    return value


def _records(demo: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (demo / "decisions.jsonl").read_text().splitlines()]


def test_totals_equal_the_decision_log(demo: Path, report: dict[str, Any]) -> None:
    records = _records(demo)
    actions = Counter(r["action"] for r in records)
    assert report["decisions"] == {"total": len(records), "keep": actions["keep"], "drop": actions["drop"],
                                   "skip": actions["skip"], "superseded_attempts": 0}
    assert len(records) > 20
    assert min(actions.values()) > 0


def test_protocol_counts_equal_the_decision_log(demo: Path, report: dict[str, Any]) -> None:
    records = _records(demo)
    applied: Counter[str] = Counter()
    unverifiable: Counter[str] = Counter()
    for record in records:
        protocols = {_PROTOCOL[s["mechanism"]] for s in record["signals"]}
        applied.update(protocols)
        unverifiable.update({_PROTOCOL[s["mechanism"]] for s in record["signals"] if "unverifiable" in s["tags"]})
    rows = {row["protocol"]: row for row in report["protocols"]}
    assert set(rows) == set(_PROTOCOL.values())
    assert {name: row["assets"] for name, row in rows.items() if row["assets"]} == dict(applied)
    assert {name: row["unverifiable"] for name, row in rows.items() if row["unverifiable"]} == dict(unverifiable)
    skips = [r for r in records if r["action"] == "skip"]
    assert sum(row["decided_actions"]["skip"] for row in rows.values()) == len(skips)
    assert rows["robots.txt"]["decided_actions"]["skip"] == len(skips)
    for row in rows.values():
        assert row["decided"] == sum(row["decided_actions"].values()) <= row["assets"]
    assert rows["C2PA / CAWG training-and-data-mining"]["decided"] > 0


def test_identity_and_policy_come_from_the_crawl(demo: Path, report: dict[str, Any]) -> None:
    records = _records(demo)
    requests = [r for r in read_warc(demo / "crawl.warc.gz") if r[0] == "request"]
    sent = {r[4].get_header("User-Agent") for r in requests}
    crawler = report["crawler"]
    assert crawler["product_tokens"] == ["consentry"] == sorted({r["agent"] for r in records})
    assert set(crawler["user_agents"]) == sent
    assert crawler["requests_archived"] == len(requests)
    assert crawler["requests_with_credentials_or_cookies"] == 0
    assert crawler["contact_urls"] == []
    policy = report["policy"]
    assert policy["config_sha256"] == sorted({r["policy"]["config_sha256"] for r in records})
    assert policy["settings"]["purposes"] == ["ai-train"]
    assert policy["software"].startswith("consentry/")
    assert policy["problem"] is None


def test_audit_numbers_are_consentry_audits(demo: Path, report: dict[str, Any]) -> None:
    done = consentry("audit", "--jobs", "1", str(demo / "crawl.warc.gz"))
    assert done.returncode == 0
    found = re.search(r"(\d+) decisions replayed \((\d+) with an archived decision\)", done.stdout)
    mismatches = re.search(r"mismatches: (\d+)", done.stdout)
    assert found is not None
    assert mismatches is not None
    audit = report["audit"]
    assert audit["status"] == "reproduced"
    assert (audit["decisions_replayed"], audit["with_archived_decision"], audit["mismatches"]) == (
        int(found.group(1)), int(found.group(2)), int(mismatches.group(1)))


def test_information_text_says_what_the_crawl_did(report: dict[str, Any]) -> None:
    text = report["crawler_information"]
    assert "product token consentry" in text
    assert report["crawler"]["user_agents"][0] in text
    assert "RFC 9309" in text
    assert "TDMRep" in text
    assert "Works registry" not in text  # not configured for the demo, so not claimed
    assert "never retried with credentials, cookies or another user agent" in text


def test_no_audit_says_how_to_audit(demo: Path) -> None:
    done = consentry("report", str(demo), "--no-audit")
    assert done.returncode == 0
    assert f"audit: not audited; run: consentry audit {demo / 'crawl.warc.gz'}" in done.stdout
    assert "Crawler information (to publish):\nOur crawler identifies itself" in done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_html_opens_in_headless_chromium(demo: Path, report: dict[str, Any]) -> None:
    page = demo / "report.html"
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href|xmlns|action|data|poster)\s*=\s*["']?(?!data:)[a-z]+:""", html, re.I)
    assert "url(" not in html
    assert "<script" not in html
    assert CHROMIUM is not None
    dom = subprocess.run([CHROMIUM, *_FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert '<table id="protocols">' in dom
    for name in _PROTOCOL.values():
        assert f"<td>{name}</td>" in dom, name
    assert '<blockquote id="crawler-information">' in dom
    assert report["crawler_information"].split(";")[0] in dom
    assert "not a certificate of compliance" in dom


def test_not_a_directory_and_not_a_crawl_are_exit_2(tmp_path: Path) -> None:
    done = consentry("report", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"consentry: error: {tmp_path / 'nowhere'}: not a directory"
    done = consentry("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"consentry: error: {tmp_path} is not a crawl output: neither decisions.jsonl "
                                   "nor crawl.warc.gz is there (consentry crawl -o DIR writes both; a distributed "
                                   "worker, RUN.WORKER.{decisions.jsonl,crawl.warc.gz})")


def test_torn_lines_are_named_and_skipped(demo: Path, tmp_path: Path) -> None:
    lines = (demo / "decisions.jsonl").read_text().splitlines()
    torn = [*lines[:-1], "not json at all", lines[-1][: len(lines[-1]) // 2]]
    (tmp_path / "decisions.jsonl").write_text("\n".join(torn) + "\n")
    done = consentry("report", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert value["decisions"]["total"] == len(lines) - 1
    n = len(lines)
    assert value["problems"] == [
        f"decisions.jsonl line {n}: not a JSON object (torn line?); skipped",
        f"decisions.jsonl line {n + 1}: not a JSON object (torn line?); skipped",
        "crawl.warc.gz missing: no policy, User-Agent or audit",
    ]
    assert value["audit"] == {"status": "not audited", "command": None}


def test_nothing_usable_is_exit_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "decisions.jsonl").write_text('{"schema": "consentry.decision/1", "url": "htt\n')
    done = consentry("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"consentry: error: {tmp_path}: no usable decision record in decisions.jsonl "
                                   "(decisions.jsonl line 1: not a JSON object (torn line?); skipped)")


def test_decisions_are_read_from_the_warc_when_the_log_is_missing(demo: Path, tmp_path: Path,
                                                                   report: dict[str, Any]) -> None:
    shutil.copy(demo / "crawl.warc.gz", tmp_path / "crawl.warc.gz")
    done = consentry("report", str(tmp_path), "--json", "--no-audit")
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert value["decisions"] == report["decisions"]
    assert value["decisions_from"] == "crawl.warc.gz (metadata records)"
    assert value["problems"] == ["decisions.jsonl missing: decisions read from crawl.warc.gz"]


def test_a_distributed_workers_directory_is_read_whole(demo: Path, tmp_path: Path) -> None:
    """A directory of a distributed run's worker files (RUN.WORKER.decisions.jsonl, RUN.WORKER.crawl.warc.gz) is
    reported like one crawl; a URL decided again after its worker died counts once, by its latest attempt (the
    earlier attempt is named as superseded). The worker files here are the demo's, renamed, plus a copy of one
    record marked as an earlier attempt of its URL; the full run is tests/crawler/test_distributed.py."""
    workers = tmp_path / "workers"
    workers.mkdir()
    shutil.copy(demo / "crawl.warc.gz", workers / "r1.w1.crawl.warc.gz")
    lines = (demo / "decisions.jsonl").read_text().splitlines()
    records = [dict(json.loads(line), run={"id": "r1", "worker": "w1", "attempt": 2}) for line in lines]
    earlier = dict(records[0], action="skip" if records[0]["action"] != "skip" else "keep",
                   run={"id": "r1", "worker": "w0", "attempt": 1})
    (workers / "r1.w1.decisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (workers / "r1.w0.decisions.jsonl").write_text(json.dumps(earlier) + "\n")
    done = consentry("report", str(workers), "--json")
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    actions = Counter(r["action"] for r in records)
    assert value["decisions"] == {"total": len(records), "keep": actions["keep"], "drop": actions["drop"],
                                  "skip": actions["skip"], "superseded_attempts": 1}
    assert value["decisions_from"] == "2 worker decision log(s), 1 worker WARC(s)"
    assert value["audit"]["status"] == "reproduced"
    assert value["audit"]["command"] == f"consentry audit {workers / 'r1.w1.crawl.warc.gz'}"
    summary = consentry("report", str(workers), "--no-audit")
    assert "(each URL once, by its latest attempt: 1 earlier attempts left out)" in summary.stdout
