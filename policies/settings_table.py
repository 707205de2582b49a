"""The one table of `CONSENT_*` settings: name, default, allowed values, meaning.

Pure data. The Scrapy components (`consentry.middlewares._config`), the add-on, the command-line front ends
and README's settings table all read it; a test keeps README equal to `markdown_table()`. The defaults of the
settings that shape decisions are `PolicyConfig`'s field defaults (`consentry.policies.config`), read here
from a default `PolicyConfig`; transport settings (output paths, TTL of unreachable site files, …) are
written here. `check_names` refuses a `CONSENT_*` name that is not in the table, naming the closest one.
"""

from __future__ import annotations

import difflib
import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass

from consentry.policies.config import (
    InferredMode,
    OnAiGenerated,
    OnDeny,
    OnUnknown,
    OnUnverifiable,
    PolicyConfig,
)

__all__ = [
    "PREFIX",
    "SETTINGS",
    "Setting",
    "check_names",
    "default",
    "defaults",
    "markdown_table",
    "setting",
]

#: Every setting of the table starts with it; any other name with this prefix is an error.
PREFIX = "CONSENT_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One `CONSENT_*` setting: its default (an immutable value; None means unset), allowed values, meaning."""

    name: str
    default: object
    values: str
    meaning: str
    policy_field: str | None = None

    def scrapy_value(self) -> object:
        """The default as a Scrapy setting value (a tuple becomes a fresh list)."""
        return list(self.default) if isinstance(self.default, tuple) else self.default

    def shown_default(self) -> str:
        """The default as README shows it: `True`, `consentry`, `["ai-train"]`, `86400`, or unset."""
        if self.default is None:
            return "unset"
        if isinstance(self.default, tuple):
            return "`" + json.dumps(list(self.default)) + "`"
        return f"`{self.default}`"


def _choices(kind: type[enum.StrEnum]) -> str:
    names = [f"`{member.value}`" for member in kind]
    return ", ".join(names[:-1]) + " or " + names[-1]


_POLICY = PolicyConfig()

SETTINGS: tuple[Setting, ...] = (
    Setting("CONSENT_ENABLED", True, "boolean", "`False` disables every consent component"),
    Setting(
        "CONSENT_AGENT", _POLICY.agent, "product token",
        "our product token (letters, `_`, `-`), matched against robots.txt groups exactly as RFC 9309 says; "
        "also sent in the User-Agent", "agent",
    ),
    Setting(
        "CONSENT_PURPOSES", tuple(p.value for p in _POLICY.purposes), "list of purposes",
        "the purposes the crawl collects for; a non-leaf means all its leaves", "purposes",
    ),
    Setting(
        "CONSENT_ON_DENY", _POLICY.on_deny.value, _choices(OnDeny),
        "`drop`: withheld assets are not kept; `tag`: kept, with the verdicts on the item", "on_deny",
    ),
    Setting(
        "CONSENT_ON_UNKNOWN", _POLICY.on_unknown.value, _choices(OnUnknown),
        "`keep` (opt-out regime, EU DSM Art. 4) or `drop` (opt-in: only explicit consent is kept)", "on_unknown",
    ),
    Setting(
        "CONSENT_ON_UNVERIFIABLE", _POLICY.on_unverifiable.value, _choices(OnUnverifiable),
        "a declared source that could not be read (tdmrep.json 5xx, a broken declared licence, an unfetchable "
        "remote manifest)", "on_unverifiable",
    ),
    Setting(
        "CONSENT_INFERRED", _POLICY.inferred.value, _choices(InferredMode),
        "`inferred` and `vendor-specific` signals: `enforce` counts them, `tag` records them uncounted (decision "
        "tagged `inferred`), `ignore` leaves them out", "inferred",
    ),
    Setting(
        "CONSENT_SITEFILE_TTL", _POLICY.sitefile_ttl, "seconds, at least 1",
        "seconds a fetched site file is used (RFC 9309: at most 24 h)", "sitefile_ttl",
    ),
    Setting(
        "CONSENT_UNREACHABLE_TTL", 60, "seconds, at least 0",
        "seconds before an unreachable site file is fetched again (its origin stays denied meanwhile)",
    ),
    Setting(
        "CONSENT_MAX_SITEFILE_BYTES", _POLICY.max_sitefile_bytes, f"bytes, at least {_POLICY.max_sitefile_bytes}",
        "site files are parsed up to this size (RFC 9309: at least 500 KiB)", "max_sitefile_bytes",
    ),
    Setting(
        "CONSENT_C2PA_MAX_BYTES", _POLICY.c2pa_max_bytes, "bytes, at least 1",
        "larger assets are not handed to the C2PA reader (a manifest seen by the pre-scan then reads "
        "`unverifiable`)", "c2pa_max_bytes",
    ),
    Setting(
        "CONSENT_C2PA_TRUST_ANCHORS", _POLICY.c2pa_trust_anchors, "file path (PEM)",
        "a PEM file of trust anchors; manifests signed under them read `Trusted`", "c2pa_trust_anchors",
    ),
    Setting(
        "CONSENT_ON_AI_GENERATED", _POLICY.on_ai_generated.value, _choices(OnAiGenerated),
        "an asset whose C2PA/IPTC metadata says it is AI-generated: `keep` records the label, `tag` also tags the "
        "decision `ai-generated`, `drop` withholds it with its own reason (see "
        "[AI-generated labelling](#ai-generated-labelling))", "on_ai_generated",
    ),
    Setting(
        "CONSENT_EXCLUDED_DOMAINS", (), "list of list files and/or domains",
        "URLs on these registrable domains or hosts, subdomains included, are never requested (`skip`, mechanism "
        "`excluded-domain`); an entry with a `/` or naming an existing file is a list file (one name per line, "
        "`#` comments), any other entry a domain",
    ),
    Setting(
        "CONSENT_FOLLOW_DROPPED_PAGES", True, "boolean",
        "follow the links of HTML pages dropped for use (their own items are withheld)",
    ),
    Setting(
        "CONSENT_REGISTRY", None, "file path",
        "a works registry (`consentry registry add`): assets matching a registered work carry its creator's "
        "terms",
    ),
    Setting(
        "CONSENT_MAX_RETRY_AFTER", 300, "seconds, at least 0",
        "the longest `Retry-After` (on a 429 or 503) for which an origin is left alone; longer values are capped",
    ),
    Setting(
        "CONSENT_MAX_CRAWL_DELAY", 30, "seconds, at least 0",
        "the longest interval between two requests to an origin that its robots.txt `Crawl-delay` or "
        "`Request-rate` (our group's) can ask for; longer values are capped",
    ),
    Setting(
        "CONSENT_ALLOW_PRIVATE_ADDRESSES", False, "boolean",
        "also fetch from loopback, private, link-local and other non-public addresses (those of the start URLs "
        "are always allowed)",
    ),
    Setting(
        "CONSENT_MAX_LINKED_PER_RESPONSE", 16, "count, at least 1",
        "licences and remote manifests fetched for one response or robots.txt; the rest read `unverifiable`",
    ),
    Setting(
        "CONSENT_MAX_LINKED_PER_ORIGIN", 256, "count, at least 1",
        "distinct licences and remote manifests fetched from one origin per run; the rest read `unverifiable`",
    ),
    Setting("CONSENT_LOG_PATH", None, "file path", "the decision log (JSON lines); unset disables it"),
    Setting("CONSENT_WARC_PATH", None, "file path", "the crawl's WARC; unset disables it"),
    Setting(
        "CONSENT_REDIS_URL", None, "redis://HOST:PORT/DB",
        "a distributed crawl: workers share the run's queue, site files and politeness in this Redis "
        "(docs/distributed.md); unset: one process",
    ),
    Setting("CONSENT_RUN_ID", None, "text", "the distributed run's name (its Redis keys); required with CONSENT_REDIS_URL"),
    Setting("CONSENT_WORKER_ID", None, "text", "this worker's name in the run (default: HOST-PID)"),
    Setting(
        "CONSENT_IDLE_TIMEOUT", 10.0, "seconds",
        "a worker stops once the run has had nothing pending and nothing in flight for this long",
    ),
    Setting(
        "CONSENT_LEASE_TIMEOUT", 60.0, "seconds",
        "a leased URL not acknowledged (its worker died) goes back to the queue after this long",
    ),
    Setting(
        "CONSENT_REDIS_RETRY", 30.0, "seconds",
        "how long Redis errors are retried before the worker stops (never deciding without the shared view)",
    ),
    Setting(
        "CONSENT_PROGRESS", False, "boolean",
        "a running count on stderr (`consentry crawl` turns it on when stderr is a terminal)",
    ),
)  # fmt: skip

_BY_NAME = {entry.name: entry for entry in SETTINGS}


def setting(name: str) -> Setting:
    """The table entry of `name` (`KeyError` when it is not a consentry setting)."""
    return _BY_NAME[name]


def default(name: str) -> object:
    """The default of `name` as a Scrapy setting value (None when unset)."""
    return _BY_NAME[name].scrapy_value()


def defaults() -> dict[str, object]:
    """Every setting's default, as Scrapy setting values (fresh lists)."""
    return {entry.name: entry.scrapy_value() for entry in SETTINGS}


def check_names(names: Iterable[str]) -> None:
    """`ValueError` for the first (sorted) `CONSENT_*` name, any case, that is not in the table, with the closest
    known name: `NAME: unknown setting (did you mean CONSENT_ON_DENY?)`."""
    unknown = sorted(n for n in names if n.upper().startswith(PREFIX) and n not in _BY_NAME)
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name.upper(), _BY_NAME, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"{name}: unknown setting{hint}")


def markdown_table() -> str:
    """README's settings table, one row per setting in table order."""
    rows = ["| setting | default | values | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.shown_default()} | {s.values} | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)
