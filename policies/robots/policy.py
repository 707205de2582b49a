"""robots.txt for our product token: RFC 9309 access, plus the usage records riding in the same groups
(RFC 9309, AIPREF attach-05, Content Signals, RSL `License:` lines, DisallowAITraining; docs/signals/robots.md).
Pure.

Fetch status is data (RFC 9309 §2.3.1): OK -> parse; UNAVAILABLE (4xx) -> allow all, no usage
records; UNREACHABLE (5xx, 429, network error) -> deny all. Grammar: see `consentry.policies.robots.groups`.
Access uses the shared `urlpattern` matcher on the RFC 9309-selected group (tests cross-check it against
Protego fed that group): one ordered scan per URL yields both the verdict and the deciding rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self
from urllib.parse import urlsplit

from consentry.policies.aipref import most_restrictive
from consentry.policies.contentsignal import parse_content_signal
from consentry.policies.html import looks_like_html
from consentry.policies.model import FetchStatus, Signal, SiteFile
from consentry.policies.robots.extensions import AiTrainingRules, InferredRules, UsageRules, usage_notes
from consentry.policies.robots.groups import (
    ACCESS_FIELDS,
    Line,
    RobotsFile,
    parse_groups,
    product_token,
    select_groups,
)
from consentry.policies.robots.pacing import Pacing, pacing_from
from consentry.policies.robots.rules import RuleMatcher, rules_from
from consentry.policies.robots.urlpattern import request_path
from consentry.policies.vocabulary import Mechanism, Scope, Tag, Verdict

__all__ = ["RobotsPolicy"]

_ROBOTS_PATH = "/robots.txt"


def _signal(source: str, evidence: str, tags: Sequence[Tag] = ()) -> Signal:
    return Signal(Mechanism.ROBOTS, Scope.SITE, source, evidence, {}, tuple(sorted(set(tags))))


def _content_signal(lines: Sequence[Line], label: str, source: str, tags: Sequence[Tag]) -> Signal | None:
    """The combined Content-Signal lines of one scope (most restrictive per key, docs/readings.md)."""
    readings = [parse_content_signal(line.value) for line in lines]
    statements = [r.statement for r in readings if r.statement]
    if not statements:
        return None
    statement, conflict = most_restrictive(statements, hierarchical=False)
    all_tags = {*tags, *(t for r in readings for t in r.tags)} | ({Tag.CONFLICT} if conflict else set())
    where = f' (group "{label}")' if label else " (no group: applies to every agent)"
    evidence = " + ".join(f"line {line.number}: {line.text}" for line in lines) + where
    return Signal(
        Mechanism.ROBOTS_CONTENT_SIGNAL,
        Scope.SITE,
        source,
        evidence,
        statement,
        tuple(sorted(all_tags)),
        hierarchical=False,
    )


def _license_urls(parsed: RobotsFile) -> tuple[tuple[str, ...], list[str]]:
    """Every `License:` URL anywhere in the file (not group-bound, RSL "Adding RSL to robots.txt") and warnings."""
    return _absolute_urls(parsed, "license")


def _absolute_urls(parsed: RobotsFile, field: str) -> tuple[tuple[str, ...], list[str]]:
    """Every absolute http(s) URL of the `field` records anywhere in the file, and warnings for the others."""
    urls: list[str] = []
    warnings: list[str] = []
    label = field.capitalize()
    for line in parsed.records(field):
        parts = urlsplit(line.value) if line.value.isprintable() else None
        if parts is not None and parts.scheme.lower() in ("http", "https") and parts.netloc:
            urls.append(line.value)
        else:
            warnings.append(
                f"line {line.number}: {label} {line.value!r} is not an absolute http(s) URL: ignored"
            )
    return tuple(urls), warnings


class RobotsPolicy:
    """A parsed robots.txt as seen by one product token. Build with `RobotsPolicy.parse`."""

    __slots__ = (
        "_access",
        "_by_line",
        "_fixed",
        "_inferred",
        "_last",
        "_no_match",
        "_self_signal",
        "_site",
        "_training",
        "_usage",
        "license_urls",
        "pacing",
        "sitemap_urls",
        "warnings",
    )

    def __init__(
        self,
        *,
        source: str,
        fixed: tuple[Verdict, Signal] | None = None,
        warnings: Sequence[str] = (),
        license_urls: Sequence[str] = (),
    ) -> None:
        self._fixed = fixed
        self._self_signal = _signal(source, "robots.txt itself is always allowed (RFC 9309 §2.2.2)")
        self._access = RuleMatcher(())
        self._by_line: dict[int, tuple[Verdict, Signal]] = {}
        self._no_match = (Verdict.ALLOW, _signal(source, "no robots.txt rule matches"))
        self._usage: tuple[UsageRules, ...] = ()
        self._training: AiTrainingRules | None = None
        self._inferred: InferredRules | None = None
        self._site: tuple[Signal, ...] = ()
        self._last: tuple[str, tuple[Verdict, Signal]] | None = None
        self.warnings: tuple[str, ...] = tuple(warnings)
        self.license_urls: tuple[str, ...] = tuple(license_urls)
        self.pacing = Pacing()  # Crawl-delay / Request-rate of our groups (`consentry.policies.robots.pacing`)
        self.sitemap_urls: tuple[str, ...] = ()  # `Sitemap:` lines, anywhere in the file (absolute http(s))

    @classmethod
    def parse(cls, site_file: SiteFile, agent: str) -> Self:
        """The policy for `agent`'s product token from a fetched robots.txt; never raises."""
        if site_file.status is FetchStatus.UNAVAILABLE:
            evidence = (
                f"robots.txt {site_file.http_status or site_file.detail}: no restrictions (RFC 9309 §2.3.1.3)"
            )
            return cls(source=site_file.url, fixed=(Verdict.ALLOW, _signal(site_file.url, evidence)))
        if site_file.status is FetchStatus.UNREACHABLE:
            status = site_file.http_status or site_file.detail or "unreachable"
            evidence = f"robots.txt {status}: complete disallow (RFC 9309 §2.3.1.4)"
            return cls(source=site_file.url, fixed=(Verdict.DENY, _signal(site_file.url, evidence)))
        if unreadable := site_file.unreadable:
            evidence = f"robots.txt cannot be read ({unreadable}): complete disallow, as unreachable (RFC 9309 §2.3.1.4)"
            warning = f"robots.txt cannot be read: {unreadable}; treated as unreachable (nothing is fetched)"
            return cls(source=site_file.url, fixed=(Verdict.DENY, _signal(site_file.url, evidence)), warnings=(warning,))
        policy = cls(source=site_file.url)
        policy._build(site_file, agent)
        return policy

    def _build(self, site_file: SiteFile, agent: str) -> None:
        source = site_file.url
        parsed = parse_groups(site_file.text)
        warnings = list(parsed.warnings)
        tags = [Tag.LENIENT] if parsed.lenient else []
        if looks_like_html(site_file.body):
            tags.append(Tag.LENIENT)
            warnings.append("robots.txt is an HTML page, not plain text: parsed leniently")
        if site_file.truncated:
            tags.append(Tag.LENIENT)
            warnings.append(f"robots.txt truncated ({site_file.detail}): rules past the cap are ignored")
        groups, label = select_groups(parsed.groups, agent)
        records = [line for group in groups for line in group.records]
        self._build_access(records, label, source, tags)
        self._build_usage(parsed, records, label, source, warnings)
        self._inferred = InferredRules(parsed.groups, product_token(agent), source)
        self.license_urls, license_warnings = _license_urls(parsed)
        self.pacing = pacing_from(records)
        self.sitemap_urls = _absolute_urls(parsed, "sitemap")[0]
        self.warnings = tuple(warnings + license_warnings + list(self.pacing.warnings))

    def _build_access(self, records: Sequence[Line], label: str, source: str, tags: Sequence[Tag]) -> None:
        rules = rules_from((r for r in records if r.field in ACCESS_FIELDS), "allow", "disallow")
        self._access = RuleMatcher(rules)
        where = f'group "{label}"' if label else "no group applies"
        for rule in rules:
            verdict = Verdict.ALLOW if rule.allow else Verdict.DENY
            evidence = f"line {rule.line.number}: {rule.line.text} ({where})"
            self._by_line[rule.line.number] = (verdict, _signal(source, evidence, tags))
        self._no_match = (Verdict.ALLOW, _signal(source, f"no rule matches ({where})", tags))
        self._self_signal = _signal(source, "robots.txt itself is always allowed (RFC 9309 §2.2.2)", tags)

    def _build_usage(
        self, parsed: RobotsFile, records: Sequence[Line], label: str, source: str, warnings: list[str]
    ) -> None:
        usage = [UsageRules((r for r in records if r.field == "content-usage"), label, source)]
        loose = [line for line in parsed.ungrouped if line.field == "content-usage"]
        if loose:
            usage.append(UsageRules(loose, "", source, extra_tags=(Tag.UNGROUPED,)))
        self._usage = tuple(usage)
        self._training = AiTrainingRules(records, label, source)
        site = [
            _content_signal([r for r in records if r.field == "content-signal"], label, source, ()),
            _content_signal(
                [r for r in parsed.ungrouped if r.field == "content-signal"], "", source, (Tag.UNGROUPED,)
            ),
        ]
        self._site = tuple(s for s in site if s is not None)
        warnings += [note for line in parsed.records("content-usage") for note in usage_notes(line)]
        warnings += [
            f"line {line.number}: Content-Signal: {note}"
            for line in parsed.records("content-signal")
            for note in parse_content_signal(line.value).notes
        ]

    def _decide(self, url: str) -> tuple[Verdict, Signal]:
        last = self._last
        if last is not None and last[0] == url:
            return last[1]
        path = request_path(url)
        if path == _ROBOTS_PATH or path.startswith(_ROBOTS_PATH + "?"):
            result = (Verdict.ALLOW, self._self_signal)
        elif self._fixed is not None:
            result = self._fixed
        else:
            rule, _ = self._access.decide(path, url)
            result = self._no_match if rule is None else self._by_line[rule.line.number]
        self._last = (url, result)
        return result

    def access(self, url: str) -> tuple[Verdict, Signal]:
        """May our agent fetch `url` (RFC 9309)? The verdict and the signal naming the deciding rule."""
        return self._decide(url)

    def signals(self, url: str) -> list[Signal]:
        """The usage signals robots.txt carries for `url`; none for a URL we may not fetch (AIPREF attach)."""
        if self._fixed is not None or self._decide(url)[0] is Verdict.DENY:
            return []
        path = request_path(url)
        out = list(self._site)
        for rules in self._usage:
            if (usage := rules.signal(path)) is not None:
                out.append(usage)
        if self._training is not None and (training := self._training.signal(path)) is not None:
            out.append(training)
        if self._inferred is not None:
            out += self._inferred.signals(path)
        return out
