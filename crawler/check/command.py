"""`consentry check`: the command-line front end of the checker (arguments, output, exit code; docs/cli.md).

Arguments are declared here without importing the checker; `run` imports it only when the work needs it.
Exit codes (`consentry.crawler.exitcodes`): 0 every URL answered 2xx or was skipped by the site's choice; 1 a URL
could not be fetched, answered non-2xx, or its robots.txt was unreachable; 2 bad usage (a URL that is not an
absolute http(s) URL with a host and a valid port, a missing `--root`, unreadable trust anchors…).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consentry.crawler import exitcodes
from consentry.crawler.errors import UsageError
from consentry.crawler.helptext import examples, purposes_epilog, purposes_help
from consentry.policies.config import PolicyConfig
from consentry.policies.settings_table import default

if TYPE_CHECKING:
    from consentry.crawler.check.checker import Checker, CheckResult
    from consentry.middlewares.adapters.registry import Registry

__all__ = ["add_parser", "check_url", "json_element", "policy_args", "policy_config", "run"]


_DESCRIPTION = """\
For a site owner: fetch each URL's origin files (robots.txt, ai.txt, tdmrep.json and the RSL licences
they name), then the URL itself, and show signal by signal where each came from, the exact line or
value, how consentry read it, the verdict per purpose and the action a crawl would take. Nothing is
crawled. --root DIR reads a local web root instead of the live site; --header tries a response header
before you deploy it. The table goes to stdout (--json: only a JSON array of decision records, one per
URL, warnings on stderr)."""

_EXAMPLES = (
    ("consentry check https://example.com/img/a.jpg", "how example.com's signals are read for one image"),
    ("consentry check https://example.com/ --header 'X-Robots-Tag: noai'", "try a header before deploying it"),
    ("consentry check --root ./public https://example.com/blog/", "read a local web root, not the live site"),
    ("consentry check --purpose search --json https://example.com/", "records for the search purpose, as JSON"),
    ("consentry check --registry society.db https://example.com/a.jpg", "with a works registry (CONSENT_REGISTRY)"),
)


def _header(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise argparse.ArgumentTypeError(f"--header {value!r}: expected 'Name: value'")
    return name.strip(), rest.strip()


#: `check --deadline`: seconds one fetch may take in all, over every redirect hop and read.
DEFAULT_DEADLINE = 30.0


def _deadline(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--deadline {value!r}: expected seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"--deadline {value!r}: expected more than 0 and at most 3600 seconds")
    return seconds


def policy_args(parser: argparse.ArgumentParser) -> None:
    """`--agent` and `--purpose`, shared by the commands that evaluate."""
    parser.add_argument("--agent", default=default("CONSENT_AGENT"), metavar="TOKEN",
                        help="our product token, matched against robots.txt groups (CONSENT_AGENT)")
    parser.add_argument("--purpose", action="append", dest="purposes", metavar="P", help=purposes_help())


def policy_config(args: argparse.Namespace, **extra: object) -> PolicyConfig:
    """The `PolicyConfig` of `--agent`/`--purpose` plus `extra` settings; a bad value is a `UsageError`."""
    values: dict[str, object] = {"CONSENT_AGENT": args.agent, **extra}
    if args.purposes:
        values["CONSENT_PURPOSES"] = args.purposes
    try:
        return PolicyConfig.from_settings(values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Declare `consentry check`."""
    check: argparse.ArgumentParser = sub.add_parser(
        "check", help="show how a site's directives are read for URLs", description=_DESCRIPTION,
        epilog=examples(_EXAMPLES, purposes_epilog()))
    check.add_argument("urls", nargs="+", metavar="URL", help="absolute http(s) URLs, checked in argument order")
    policy_args(check)
    check.add_argument("--header", action="append", type=_header, default=[], metavar="'Name: value'",
                       help="add a response header to each asset, as if the server sent it")
    check.add_argument("--root", type=Path, metavar="DIR", help="read a local web root instead of the live site")
    check.add_argument("--deadline", type=_deadline, default=DEFAULT_DEADLINE, metavar="SECONDS",
                       help="total time one fetch may take, all redirect hops and reads together (a slow-drip "
                            "server is cut there)")
    check.add_argument("--allow-private-addresses", action="store_true",
                       help="also fetch from loopback, private and link-local addresses other than the URLs' own")
    check.add_argument("--json", action="store_true",
                       help="print only a JSON array, one element per URL in argument order: its decision record, "
                            "or an error object when nothing answered")
    check.add_argument("--trust-anchors", type=Path, metavar="PEM",
                       help="C2PA trust anchors (PEM); signers chaining to them read Trusted")
    check.add_argument("--registry", type=Path, metavar="FILE",
                       help="a works registry file (consentry registry add; the crawl's CONSENT_REGISTRY): "
                            "matching assets carry its creator's terms")
    return check


def _open_registry(path: Path | None) -> Registry | None:
    if path is None:
        return None
    from consentry.middlewares.adapters.registry import Registry, RegistryError

    try:
        return Registry.open(path)
    except RegistryError as exc:
        raise UsageError(f"--registry {exc}") from None


def _budget() -> Any:
    """The linked-document caps (the settings table's defaults)."""
    from consentry.middlewares.adapters.linkbudget import LinkBudget

    return LinkBudget()


def _live_source(args: argparse.Namespace, agent: str) -> Any:
    """httpx, refusing non-public addresses except those of the URLs checked (or all, when allowed)."""
    from consentry.crawler.check.sources import HttpSource
    from consentry.middlewares.adapters.addresses import FetchGuard

    guard = FetchGuard(allow_private=args.allow_private_addresses)
    guard.allow_urls(args.urls)
    return HttpSource(agent, args.header, guard=guard, deadline=args.deadline)


#: Characters no host name or address literal holds (RFC 3986 §3.2.2 reg-name, after `urlsplit`).
_NOT_IN_HOSTS = frozenset('<>"{}|\\^`/?#@')


def check_url(url: str) -> None:
    """`UsageError` unless `url` is an absolute http(s) URL with a host and a usable port."""
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not an absolute http(s) URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", "Port could not be cast…"
        raise UsageError(f"{url!r}: {str(exc)[:1].lower()}{str(exc)[1:]}") from None
    if not parts.hostname:
        raise UsageError(f"{url!r} has no host")
    if any(c.isspace() or c in _NOT_IN_HOSTS for c in parts.hostname):
        raise UsageError(f"{url!r}: {parts.hostname!r} is not a host name")
    if port == 0:
        raise UsageError(f"{url!r}: port 0 cannot be connected to")


def json_element(result: CheckResult) -> dict[str, object]:
    """The `--json` element for one URL: its decision record with a `check` object (requested and final URL,
    HTTP status, problem), or `{"url", "error": {"reason", "message"}}` when nothing answered (docs/cli.md)."""
    if result.decision is None:
        failure = result.failure
        return {"url": result.url, "error": {"reason": failure.reason if failure else "network-error",
                                             "message": result.problem or "could not fetch"}}
    return {**result.decision.to_record(),
            "check": {"requested_url": result.url, "final_url": result.final_url, "status": result.status,
                      "problem": result.problem}}


def _print_results(checker: Checker, results: Sequence[CheckResult], as_json: bool, warn: bool) -> None:
    """The tables (site warnings once per origin, with its first URL), or `--json` on stdout and the warnings
    on stderr (each site warning once per origin; none when `warn` is false: `-q`)."""
    from consentry.crawler.table import render_check

    seen: set[str] = set()
    tables = []
    for result in results:
        site = () if result.origin in seen else checker.site_warnings(result.origin)
        seen.add(result.origin)
        if not as_json:
            tables.append(render_check(result, site))
        elif warn:
            for warning in site:
                print(f"consentry: warning: {result.origin}: {warning}", file=sys.stderr)
            for warning in dict.fromkeys(result.warnings):
                print(f"consentry: warning: {result.url}: {warning}", file=sys.stderr)
    print(json.dumps([json_element(r) for r in results], indent=2) if as_json else "\n\n".join(tables))


def run(args: argparse.Namespace) -> int:
    """Check every URL; print the tables (or `--json`, its warnings on stderr unless `-q`); exit 1 when a URL
    could not be fetched, answered non-2xx or had an unreachable robots.txt (each also one line on stderr)."""
    from consentry.crawler.check.checker import Checker
    from consentry.crawler.check.sources import RootSource
    from consentry.crawler.cli import verbosity
    from consentry.middlewares._config import read_trust_anchors

    config = policy_config(args, CONSENT_C2PA_TRUST_ANCHORS=args.trust_anchors)
    for url in args.urls:
        check_url(url)
    if args.root is not None and not args.root.is_dir():
        raise UsageError(f"--root {args.root}: not a directory")
    try:
        anchors = read_trust_anchors(config.c2pa_trust_anchors)
    except ValueError as exc:
        raise UsageError(str(exc).replace("CONSENT_C2PA_TRUST_ANCHORS", "--trust-anchors", 1)) from None
    source = RootSource(args.root, args.header) if args.root else _live_source(args, config.agent)
    registry = _open_registry(args.registry)
    try:
        checker = Checker(source, config, trust_anchors_pem=anchors, registry=registry, budget=_budget())
        results = [checker.check(url) for url in args.urls]
        _print_results(checker, results, args.json, warn=verbosity(args) >= 0)
    finally:
        source.close()
        if registry is not None:
            registry.close()
    problems = [r for r in results if r.problem is not None]
    for result in problems:
        print(f"consentry: {result.url}: {result.problem}", file=sys.stderr)
    return exitcodes.FINDING if problems else exitcodes.OK
