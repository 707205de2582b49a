"""`consentry audit`: a real crawl replays with zero mismatches; edits are caught; foreign and broken WARCs."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from consentry.crawler.audit.result import AuditOptions
from consentry.crawler.audit.runner import audit_file
from consentry.policies.record import record_problems
from tests.crawler._audit import members, results, run_audit
from tests.crawler._helpers import ROOT
from tests.fixtures.warc.generate import ORIGIN, member, write_all


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo (every mechanism) crawled by the project's own crawler."""
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "consentry.crawler.cli", "demo", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "crawl.warc.gz"


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("warc"))


def test_own_crawl_replays_with_zero_mismatches(crawl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(crawl), "--json")
    found = results(out)
    assert code == 0
    assert len(found) >= 20
    assert all(r["match"] is True and r["differences"] == [] for r in found)
    actions = {r["replayed"]["action"] for r in found}
    assert actions == {"keep", "drop", "skip"}
    mechanisms = {s["mechanism"] for r in found for s in r["replayed"]["signals"]}
    assert {"page-inherited", "c2pa", "robots-license", "tdmrep-html", "ai-txt"} <= mechanisms


def test_summary_table(crawl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(crawl))
    assert code == 0
    assert "mismatches: 0;" in out
    assert "would-be: kept" in out
    assert "page-inherited" in out


def _rewrite(source: Path, target: Path, pick: object, replace: object) -> str:
    """Copy a WARC, replacing the first member `pick(headers, raw)` selects by `replace(headers, raw)`."""
    done = ""
    parts = []
    for headers, raw in members(source):
        if not done and pick(headers, raw):  # type: ignore[operator]
            raw = replace(headers, raw)  # type: ignore[operator]  # noqa: PLW2901
            done = headers.get_header("WARC-Target-URI")
        parts.append(raw)
    assert done
    target.write_bytes(b"".join(parts))
    return done


def test_flipped_decision_is_caught(crawl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    def is_drop(headers: object, raw: bytes) -> bool:
        return headers.get_header("WARC-Type") == "metadata" and b'"action": "drop"' in gzip.decompress(raw)  # type: ignore[attr-defined]

    def flip(headers: object, raw: bytes) -> bytes:
        payload = gzip.decompress(raw).split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
        record = json.loads(payload)
        record["action"] = "keep"
        body = json.dumps(record).encode()
        extra = {k: v for k in ("WARC-Record-ID", "WARC-Date", "WARC-Concurrent-To")  # none for a drop withheld before download
                 if (v := headers.get_header(k)) is not None}  # type: ignore[attr-defined]
        return member(
            record["url"], body, kind="metadata", extra={**extra, "Content-Type": "application/json"}
        )

    edited = tmp_path / "flipped.warc.gz"
    url = _rewrite(crawl, edited, is_drop, flip)
    code, out, _err = run_audit(capsys, str(edited))
    assert code == 1
    assert f"MISMATCH {url}" in out
    assert 'action: archived "keep", replay "drop"' in out


def test_changed_robots_capture_is_caught(
    crawl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = {}

    def plain_robots(headers: object, raw: bytes) -> bool:
        uri = headers.get_header("WARC-Target-URI")  # type: ignore[attr-defined]
        return (
            headers.get_header("WARC-Type") == "response"
            and uri.endswith("/robots.txt")
            and re.search(rb"\r\n\r\nHTTP/1\.[01] 404 ", gzip.decompress(raw)[:4000]) is not None
        )  # the archived 404 robots.txt: matched on its status line, not on any "404" in the record

    def deny_all(headers: object, raw: bytes) -> bytes:
        first["url"] = headers.get_header("WARC-Target-URI")  # type: ignore[attr-defined]
        extra = {k: headers.get_header(k) for k in ("WARC-Record-ID", "WARC-Date")}  # type: ignore[attr-defined]
        return member(
            first["url"], b"User-agent: *\nDisallow: /\n", ("Content-Type", "text/plain"), extra=extra
        )

    edited = tmp_path / "robots.warc.gz"
    _rewrite(crawl, edited, plain_robots, deny_all)
    code, out, _ = run_audit(capsys, str(edited), "--json")
    assert code == 1
    origin = first["url"].removesuffix("/robots.txt")
    bad = [r for r in results(out) if r["match"] is False]
    assert bad
    assert all(r["url"].startswith(origin) for r in bad)
    assert all(r["replayed"]["action"] == "skip" for r in bad)
    assert all(any("access denied by the archived robots.txt" in n for n in r["notes"]) for r in bad)


def test_override_policy_reports_expected_mismatches(crawl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(crawl), "--purpose", "search")
    assert code == 1
    assert "policy overridden" in out


def test_foreign_warc_is_audited(fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("foreign-wget.warc.gz", "foreign-wget-uncompressed.warc"):
        code, out, _ = run_audit(capsys, str(fixtures[name]), "--json")
        assert code == 0
        found = {r["url"]: r for r in results(out)}
        assert set(found) == {
            f"{ORIGIN}/gallery.html",
            f"{ORIGIN}/cat.jpg",
            f"{ORIGIN}/private/secret.html",
            f"{ORIGIN}/news.html",
            "http://norobots.example/a.html",
        }
        assert all(r["archived"] is None and r["match"] is None for r in found.values())
        cat = found[f"{ORIGIN}/cat.jpg"]["replayed"]
        assert any(s["mechanism"] == "page-inherited" for s in cat["signals"])  # Referer → the noai page
        news = found[f"{ORIGIN}/news.html"]["replayed"]
        assert any(s["mechanism"] == "meta-robots" for s in news["signals"])  # gzip body decoded
        denied = found[f"{ORIGIN}/private/secret.html"]
        assert denied["replayed"]["action"] == "skip"
        assert any("access denied by the archived robots.txt" in n for n in denied["notes"])
        unknown = found["http://norobots.example/a.html"]
        # robots.txt was never fetched by this crawler: access unverified, not a would-be skip
        assert unknown["replayed"]["access"] == "unverified"
        assert unknown["replayed"]["action"] == "keep"
        assert "not-archived" in unknown["replayed"]["tags"]
        assert "unverifiable" not in unknown["replayed"]["tags"]
        assert unknown["unverifiable"] is False
        assert any("robots.txt not archived" in n for n in unknown["notes"])
        assert "not-archived" in found[f"{ORIGIN}/news.html"]["replayed"]["tags"]  # no ai.txt / tdmrep.json
        _, summary, _ = run_audit(capsys, str(fixtures[name]))
        assert f"foreign archive (not written by consentry): {fixtures[name]}" in summary
        assert "not archived: /robots.txt of http://norobots.example" in summary
        assert "no decision was archived: nothing to reproduce" in summary
        assert "reproduced" not in summary.replace("nothing to reproduce", "")


def test_real_producers(fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Chunked bodies (plain and gzip), a gzip body already decoded, X-Robots-Tag, revisits."""
    code, out, err = run_audit(capsys, str(fixtures["real-producers.warc.gz"]), "--json")
    found = results(out)
    by_url = {r["url"]: r for r in found if r["replayed"] is not None}
    for path in ("chunked.html", "chunked-gzip.html", "decoded.html"):
        record = by_url[f"{ORIGIN}/{path}"]
        assert record["replayed"]["action"] == "drop", path  # the meta noai was read
        assert any(s["mechanism"] == "meta-robots" for s in record["replayed"]["signals"])
        assert record["unverifiable"] is False
    assert any("already decoded: read as identity" in n for n in by_url[f"{ORIGIN}/decoded.html"]["notes"])
    header = by_url[f"{ORIGIN}/header.html"]["replayed"]
    assert (header["action"], header["access"]) == ("drop", "unverified")  # X-Robots-Tag: noai, no robots.txt
    assert any(s["mechanism"] == "x-robots-tag" for s in header["signals"])
    assert record_problems(header) == []  # `unverified` access is part of consentry.decision/1
    assert record_problems({**header, "access": "perhaps"}) == ["access is 'perhaps'"]
    assert by_url[f"{ORIGIN}/plain.html"]["replayed"]["action"] == "keep"
    again = [r for r in found if r["url"] == f"{ORIGIN}/again.html"]
    resolved = [r for r in again if any("revisit: payload of" in n for n in r["notes"])]
    assert len(resolved) == 1
    assert resolved[0]["replayed"]["action"] == "drop"  # the original's noai body
    absent = [r for r in again if r["replayed"] is None]
    assert len(absent) == 1
    assert absent[0]["unverifiable"] is True
    assert "original capture is not in the audit's inputs" in absent[0]["notes"][0]
    assert code == 1  # a revisit could not be verified
    assert "revisit records: 2 (1 whose original is not in the inputs)" in err
    assert "UNVERIFIABLE" in err


def test_whole_file_gzip_reads_every_record(fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["whole-file-gzip.warc.gz"]), "--json")
    assert code == 0
    assert [r["url"] for r in results(out)] == [f"{ORIGIN}/{n}.html" for n in range(50)]


def test_still_open_file_notes_its_cut_record(fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["still-open.warc.gz.open"]))
    assert code == 1
    assert "its gzip member is cut short" in out
    assert "3 decisions replayed" in out


def test_one_bad_file_does_not_cost_the_others(
    fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["lz4-compressed.warc.lz4", "foreign-wget.warc.gz", "truncated-first-record.warc.gz", "empty.warc.gz"]
    for jobs in ("1", "2"):
        code, out, err = run_audit(capsys, *(str(fixtures[n]) for n in names), "--json", "--jobs", jobs)
        assert code == 2
        assert len(results(out)) == 5  # foreign-wget's records
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("consentry: error:")]
        assert len(errors) == 3
        assert any("LZ4-compressed" in e for e in errors)
        assert any("ends inside its first record" in e for e in errors)


@pytest.mark.parametrize("name", ["not-a-warc.txt", "empty.warc.gz", "empty-gzip-member.warc.gz"])
def test_unusable_files_exit_2_with_one_line(
    name: str, fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_audit(capsys, str(fixtures[name]))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("consentry: error:")]
    assert len(lines) == 1
    assert name in lines[0]
    assert "Traceback" not in err


def test_unreadable_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_audit(capsys, str(tmp_path / "missing.warc.gz"))
    assert code == 2
    assert "missing.warc.gz" in err
    assert "Traceback" not in err
    code, _, err = run_audit(capsys, str(tmp_path))
    assert code == 2
    assert "Traceback" not in err


def test_truncated_gzip_member_rest_still_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The cut member's decoder runs on into the next members; they are still read. The fixture is written
    afresh each round (its record ids, so its compressed bytes, differ)."""
    from tests.fixtures.warc.generate import _truncated_gzip

    # One such file kept as written: a cut member whose decoder ran on through the next two members, silently.
    kept = ROOT / "tests" / "fixtures" / "warc" / "truncated-gzip-runs-on.warc.gz"
    for number in range(21):
        path = tmp_path / f"{number}.warc.gz"
        path.write_bytes(_truncated_gzip() if number else kept.read_bytes())
        code, out, err = run_audit(capsys, str(path), "--json")
        assert code == 1  # a record was lost
        assert [r["url"] for r in results(out)] == [f"{ORIGIN}/1.html", f"{ORIGIN}/3.html", f"{ORIGIN}/4.html"]
        assert "unreadable record" in err


def test_wrong_content_length_records_are_unverifiable(
    fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["wrong-content-length.warc"]), "--json")
    found = {r["url"]: r for r in results(out)}
    assert code == 1
    assert any("digest mismatch" in n for n in found[f"{ORIGIN}/1.html"]["notes"])
    assert any("Content-Length looks wrong" in n for n in found[f"{ORIGIN}/1.html"]["notes"])
    assert any("digest mismatch" in n for n in found[f"{ORIGIN}/3.html"]["notes"])
    assert f"{ORIGIN}/4.html" in found  # page 3 overran into page 4, which is still read
    assert f"{ORIGIN}/5.html" in found  # the rest of the archive is still audited
    assert not any("digest" in n for n in found[f"{ORIGIN}/5.html"]["notes"])


def test_digest_mismatches_are_caught_in_ordinary_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Well-formed gzip records whose WARC-Block-Digest or WARC-Payload-Digest (WARC 1.1 §5.8, §5.9) is wrong:
    the fast reader does not vouch for them, the record is read again and reported."""
    wrong = "sha1:" + "A" * 32  # written as WARC 1.1 writes digests (base32), but not the record's
    pages = [
        member(f"{ORIGIN}/{n}.html", f"<html><body>page {n}</body></html>".encode(), ("Content-Type", "text/html"),
               date=f"2024-01-01T00:00:0{n}Z", extra=extra)
        for n, extra in enumerate([{"WARC-Payload-Digest": wrong}, {"WARC-Block-Digest": wrong}, None], 1)
    ]
    path = tmp_path / "digests.warc.gz"
    path.write_bytes(b"".join(pages))
    code, out, _ = run_audit(capsys, str(path), "--json")
    notes = {r["url"]: " ".join(r["notes"]) for r in results(out)}
    assert code == 1
    assert "WARC digest mismatch" in notes[f"{ORIGIN}/1.html"]
    assert "WARC digest mismatch" in notes[f"{ORIGIN}/2.html"]
    assert "digest" not in notes[f"{ORIGIN}/3.html"]


def test_arc_files_are_accepted(fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["example.arc.gz"]), "--json")
    found = results(out)
    assert code == 0
    assert [r["url"] for r in found] == [f"{ORIGIN}/arc.html"]
    assert found[0]["replayed"]["access"] == "allow"  # the ARC's robots.txt was used


def test_huge_payload_is_not_read_into_memory(
    fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["huge-payload-truncated.warc"]), "--json")
    found = {r["url"]: r for r in results(out)}
    assert code == 1
    huge = found[f"{ORIGIN}/huge.bin"]
    assert huge["unverifiable"]
    assert any("truncated" in n for n in huge["notes"])


def test_body_cap_evaluates_prefix_and_hashes_everything(fixtures: dict[str, Path]) -> None:
    outcome = audit_file(str(fixtures["foreign-wget.warc.gz"]), AuditOptions(body_cap=8), want_json=True)
    assert outcome.json_path is not None
    lines = [json.loads(line) for line in Path(outcome.json_path).read_text().splitlines()]
    cat = next(r for r in lines if r["url"].endswith("/cat.jpg"))
    assert any("evaluated on its first 8 bytes" in n for n in cat["notes"])
    assert cat["replayed"]["response"]["length"] == len(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_out_of_order_and_duplicate_captures(
    fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_audit(capsys, str(fixtures["out-of-order-captures.warc.gz"]), "--json")
    found = results(out)
    assert code == 0
    by_date = [(r["date"], r["replayed"]["access"]) for r in found]
    # robots.txt allowing everything was captured on 01-01, one denying everything on 01-02 (first in the file)
    assert by_date.count(("2024-01-01T12:00:00Z", "allow")) == 2
    assert ("2024-01-03T00:00:00Z", "deny") in by_date


def test_parallel_jobs_give_the_same_result(
    crawl: Path, fixtures: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(crawl), str(fixtures["foreign-wget.warc.gz"])]
    one = run_audit(capsys, *files, "--json", "--jobs", "1")
    two = run_audit(capsys, *files, "--json", "--jobs", "2")
    assert one[0] == two[0] == 0, two[2][-3000:]
    assert [r["warc_record_id"] for r in results(one[1])] == [r["warc_record_id"] for r in results(two[1])]


def test_bad_arguments(crawl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_audit(capsys, str(crawl), "--jobs", "0")[0] == 2
    assert run_audit(capsys, str(crawl), "--purpose", "bogus")[0] == 2
    assert run_audit(capsys, str(crawl), "--jobs", "2", "--spark", "local[2]")[0] == 2
    assert run_audit(capsys, str(crawl.parent / "nothing-*.warc.gz"))[0] == 2  # a glob that matches nothing
    assert run_audit(capsys, "--files-from", str(crawl.parent / "missing-list.txt"))[0] == 2


def test_unfetchable_site_files_are_archived_and_replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A robots.txt whose connection drops leaves no response; the WARC records the failure so the skip
    replays with the same evidence (no false mismatch), and a tdmrep.json timeout likewise."""
    from consentry.crawler.demo.server import Route, SiteServer
    from tests.crawler._helpers import html, run_crawl

    dropped = SiteServer({"/robots.txt": Route(fault="drop"), "/": html("<p>never fetched</p>")}).start()
    stalled = SiteServer({"/robots.txt": Route.text("User-agent: *\nAllow: /\n"), "/": html("<p>kept?</p>"),
                          "/.well-known/tdmrep.json": Route(fault="stall", delay=5)}).start()
    try:
        result = run_crawl([dropped.url("/"), stalled.url("/")], tmp_path / "out",
                           settings={"DOWNLOAD_TIMEOUT": 1, "RETRY_ENABLED": False})
    finally:
        dropped.stop()
        stalled.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "/" not in dropped.requested
    assert result.decision(dropped.url("/"))["action"] == "skip"
    assert "unverifiable" in result.decision(stalled.url("/"))["tags"]
    failures = [json.loads(content) for kind, _, _, content, _ in result.warc_records()
                if kind == "metadata" and b"consentry.fetch-failure/1" in content]
    assert {f["url"] for f in failures} >= {dropped.url("/robots.txt"), stalled.url("/.well-known/tdmrep.json")}
    code, out, _ = run_audit(capsys, str(result.out / "crawl.warc.gz"), "--json")
    assert code == 0, [r["differences"] for r in results(out) if r["match"] is False]
    assert {r["url"] for r in results(out)} >= {dropped.url("/"), stalled.url("/")}


def _split(crawl: Path, directory: Path) -> tuple[Path, Path]:
    """The crawl as two files, as a rotated or multi-worker crawl writes it: warcinfo and every site-file
    record in the first, warcinfo and everything else in the second."""
    from consentry.crawler.audit.store import is_site_file

    first, second = [], []
    for headers, raw in members(crawl):
        kind = headers.get_header("WARC-Type")
        uri = headers.get_header("WARC-Target-URI") or ""
        if kind == "warcinfo":
            first.append(raw)
            second.append(raw)
        else:
            (first if is_site_file(uri) else second).append(raw)
    one, two = directory / "crawl-00000.warc.gz", directory / "crawl-00001.warc.gz"
    one.write_bytes(b"".join(first))
    two.write_bytes(b"".join(second))
    return one, two


def test_two_file_crawl_audits_with_zero_mismatches(
    crawl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = _split(crawl, tmp_path)
    whole = results(run_audit(capsys, str(crawl), "--json")[1])
    for argv in ([str(two), str(one)], [str(tmp_path)], [str(tmp_path / "crawl-*.warc.gz")],
                 [str(two), "--site-files", str(one)]):
        code, out, err = run_audit(capsys, *argv, "--json")
        found = results(out)
        assert code == 0, (argv, err[-2000:])
        assert all(r["match"] is True for r in found), argv
        assert sorted(r["warc_record_id"] for r in found) == sorted(r["warc_record_id"] for r in whole)
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"{two}\n{one}\n")
    assert run_audit(capsys, "--files-from", str(listing))[0] == 0
    code, out, _ = run_audit(capsys, str(two), "--json")  # without its site files: not reproducible
    assert code == 1
    assert any(r["match"] is False or r["unverifiable"] for r in results(out))


REAL = ROOT / "tests" / "fixtures" / "warc" / "real"


def test_real_warcs_from_public_repositories(capsys: pytest.CaptureFixture[str]) -> None:
    """warcio's test data (SOURCES): chunked, revisit, whole-file gzip, truncated, wget."""
    code, out, _ = run_audit(capsys, str(REAL / "example-iana.org-chunked.warc"), "--json")
    (iana,) = results(out)
    assert code == 0
    assert "chunked transfer coding removed" in iana["notes"]
    assert iana["replayed"]["access"] == "unverified"
    assert iana["replayed"]["response"]["content_type"].startswith("text/html")
    for name in ("example.warc.gz", "example-bad-non-chunked.warc.gz"):  # per-record gzip; whole-file gzip
        code, out, err = run_audit(capsys, str(REAL / name), "--json")
        found = results(out)
        assert code == 0, err
        assert [r["url"] for r in found] == ["http://example.com/", "http://example.com/"]
        assert any(n.startswith("revisit: payload of sha1:") for n in found[1]["notes"])
    code, out, _ = run_audit(capsys, str(REAL / "example-trunc.warc"), "--json")
    assert code == 1
    assert results(out)[0]["unverifiable"] is True
    code, out, err = run_audit(capsys, str(REAL / "example-wget-bad-target-uri.warc.gz"), "--json")
    assert code == 0
    assert "foreign archive" in err


def _spark_ready() -> bool:
    import importlib.util
    import shutil

    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


@pytest.mark.skipif(not _spark_ready(), reason="needs the spark extra and Java (.ci/run installs both)")
def test_spark_audit_matches_the_local_audit(
    crawl: Path, fixtures: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real local Spark (`local[2]`) runs the index pass and the replay: the same JSON as the local run."""
    one, two = _split(crawl, tmp_path)
    inputs = [str(two), str(one), str(fixtures["real-producers.warc.gz"]), str(fixtures["lz4-compressed.warc.lz4"]),
              str(REAL / "example.warc.gz")]
    local = run_audit(capsys, *inputs, "--json", "--jobs", "2")
    spark = run_audit(capsys, *inputs, "--json", "--spark", "local[2]")
    assert local[0] == spark[0] == 2  # the LZ4 file is unusable; the others are audited
    assert results(spark[1]) == results(local[1])
    assert len(results(local[1])) > 20
    assert spark[2].count("consentry: error:") == 1


@pytest.mark.parametrize("name", ["example-trunc.warc", "example.warc.gz", "example-bad-non-chunked.warc.gz",
                                  "example-iana.org-chunked.warc"])
def test_no_input_reaches_the_catch_all(name: str, tmp_path: Path) -> None:
    """Real WARCs cut at many offsets and overwritten with junk: every file is audited, or refused with a
    designed message — never through the last-resort handler that keeps one file's crash from the others."""
    import random

    data = (REAL / name).read_bytes()
    chosen = random.Random(12)
    variants = [data[:cut] for cut in sorted({chosen.randrange(len(data)) for _ in range(15)})]
    for _ in range(15):
        damaged = bytearray(data)
        at, size = chosen.randrange(len(data)), chosen.randint(1, 30)
        damaged[at : at + size] = bytes(chosen.randrange(256) for _ in range(size))
        variants.append(bytes(damaged))
    for number, variant in enumerate(variants):
        path = tmp_path / f"{number}-{name}"
        path.write_bytes(variant)
        outcome = audit_file(str(path), AuditOptions())
        assert outcome.error is None or "unreadable (" not in outcome.error, outcome.error


def test_revisit_resolved_across_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """warcio's example.warc.gz split: the revisit in one file, the capture it refers to in another."""
    original, revisit = tmp_path / "original.warc.gz", tmp_path / "revisit.warc.gz"
    parts = members(REAL / "example.warc.gz")
    original.write_bytes(b"".join(raw for h, raw in parts if h.get_header("WARC-Type") != "revisit"))
    revisit.write_bytes(b"".join(raw for h, raw in parts if h.get_header("WARC-Type") in ("warcinfo", "revisit")))
    code, out, _ = run_audit(capsys, str(revisit), "--json")
    (alone,) = results(out)
    assert code == 1
    assert alone["replayed"] is None
    assert alone["unverifiable"] is True
    code, out, err = run_audit(capsys, str(revisit), "--site-files", str(original), "--json")
    (resolved,) = results(out)
    assert code == 0, err
    assert resolved["replayed"]["response"]["status"] == 200
    assert any(n.startswith("revisit: payload of") for n in resolved["notes"])
    assert "revisit records: 1 (0 whose original is not in the inputs)" in err


def test_each_url_of_a_distributed_run_counted_once_by_its_latest_attempt() -> None:
    """The summary's each-URL-once totals: a record superseded by a later attempt of its URL (in another file)
    and a response archived without its decision (attempt 0: its worker died) are not counted again."""
    from collections import Counter

    from consentry.crawler.audit.runner import FileOutcome, once_per_url

    dead = FileOutcome("w1.warc.gz", actions=Counter(keep=2), run_ids={"r1"},
                       ledger_text="1\tr1\tkeep\thttp://a/1\n0\t\tkeep\thttp://a/2\n")
    alive = FileOutcome("w2.warc.gz", actions=Counter(keep=1, drop=1, skip=1), run_ids={"r1"},
                        repeats={("r1", "http://a/1"): 2, ("r1", "http://a/2"): 2},
                        ledger_text="2\tr1\tkeep\thttp://a/1\n2\tr1\tdrop\thttp://a/2\n1\tr1\tskip\thttp://a/3\n")
    once = once_per_url([dead, alive])
    assert once is not None
    assert (once["keep"], once["drop"], once["skip"]) == (1, 1, 1)
    # Another run that decided the same URLs once each: its records are its own run's, never superseded by r1's
    # later attempts (counting once is per (run.id, URL), as `consentry report` counts).
    other = FileOutcome("r2-w1.warc.gz", actions=Counter(keep=1, drop=1), run_ids={"r2"},
                        ledger_text="1\tr2\tkeep\thttp://a/1\n0\t\tdrop\thttp://a/2\n")
    once = once_per_url([dead, alive, other])
    assert once is not None
    assert (once["keep"], once["drop"], once["skip"]) == (2, 2, 1)
    # A file whose decisions name no single run: its undecided responses are matched by URL in any run.
    mixed = FileOutcome("mixed.warc.gz", actions=Counter(keep=1), run_ids=set(), ledger_text="0\t\tkeep\thttp://a/1\n")
    once = once_per_url([dead, alive, mixed])
    assert once is not None
    assert (once["keep"], once["drop"], once["skip"]) == (1, 1, 1)
