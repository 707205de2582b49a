"""The one reader of `CONSENT_*` Scrapy settings.

Settings → `consent_settings()` → a frozen `ConsentSettings` (holding the pure `PolicyConfig`) → plain
keyword arguments to each component. Unset settings take their defaults from the one settings table
(`consentry.policies.settings_table`). A bad value, or a `CONSENT_*` name the table does not know, raises
`ValueError` whose message names the setting; `CONSENT_ENABLED = False` raises `NotConfigured`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consentry.policies.config import PolicyConfig
from consentry.policies.exclusion import ExcludedDomains, Exclusion, normalise_name, parse_list
from consentry.policies.settings_table import SETTINGS, check_names, default

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = [
    "POLICY_SETTINGS",
    "ConsentSettings",
    "check_registry",
    "consent_enabled",
    "consent_settings",
    "policy_config_from_settings",
    "read_excluded_domains",
    "read_trust_anchors",
]

logger = logging.getLogger(__name__)
_REPORTED: set[str] = set()

#: The settings that shape decisions (read by `PolicyConfig.from_settings`).
POLICY_SETTINGS = tuple(entry.name for entry in SETTINGS if entry.policy_field is not None)


@dataclass(frozen=True, slots=True)
class ConsentSettings:
    """Every `CONSENT_*` setting, validated."""

    config: PolicyConfig
    trust_anchors_pem: str | None
    log_path: str | None
    warc_path: str | None
    unreachable_ttl: int
    follow_dropped_pages: bool
    registry_path: str | None
    max_retry_after: int
    allow_private_addresses: bool
    max_crawl_delay: int
    max_linked_per_response: int
    max_linked_per_origin: int


@functools.cache
def _extractor() -> Any:
    """The public suffix list bundled with tldextract (never fetched), as the asset spider's `site_of` reads it;
    built on first use (`check` and `audit` import this module and never need it)."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _is_public_suffix(name: str) -> bool:
    extracted = _extractor()(name)
    return bool(extracted.suffix) and not extracted.domain


def _list_file(item: str) -> bool:
    return "/" in item or "\\" in item or Path(item).is_file()


def read_excluded_domains(value: object) -> tuple[ExcludedDomains, tuple[str, ...]]:
    """`CONSENT_EXCLUDED_DOMAINS` read: list files (an entry with a `/`, or naming an existing file) and plain
    domains; the problems of malformed lines (`FILE line N: …`). An unreadable list or a bad domain entry is a
    `ValueError` naming the setting."""
    name = "CONSENT_EXCLUDED_DOMAINS"
    if value is None or value == "":
        return ExcludedDomains(), ()
    items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"{name}: expected a list of list files and/or domains, got {value!r}")
    entries: list[Exclusion] = []
    problems: list[str] = []
    for index, raw in enumerate(items, start=1):
        item = str(raw).strip()
        if not _list_file(item):
            domain = normalise_name(item)
            if domain is None or _is_public_suffix(domain):
                raise ValueError(f"{name}: {item!r} is neither a list file nor a registrable domain or host")
            entries.append(Exclusion(domain, name, index))
            continue
        try:
            text = Path(item).read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"{name}: cannot read list file {item}: {reason}") from None
        found, bad = parse_list(text, item, is_public_suffix=_is_public_suffix)
        entries.extend(found)
        problems.extend(bad)
    return ExcludedDomains(tuple(entries)), tuple(problems)


def policy_config_from_settings(settings: BaseSettings | Mapping[str, object]) -> PolicyConfig:
    """The frozen `PolicyConfig` of a crawl, exclusion lists read; `ValueError` names the bad setting.
    Malformed list lines are logged as warnings (each once per process) and skipped."""
    config = PolicyConfig.from_settings({name: settings.get(name) for name in POLICY_SETTINGS})
    excluded, problems = read_excluded_domains(settings.get("CONSENT_EXCLUDED_DOMAINS"))
    for problem in problems:
        if problem not in _REPORTED:
            _REPORTED.add(problem)
            logger.warning("CONSENT_EXCLUDED_DOMAINS: %s", problem)
    return dataclasses.replace(config, excluded=excluded) if excluded else config


def read_trust_anchors(path: str | None) -> str | None:
    """The PEM text of `CONSENT_C2PA_TRUST_ANCHORS` (None when unset); `ValueError` names the setting."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"CONSENT_C2PA_TRUST_ANCHORS: cannot read {path}: {exc}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError(f"CONSENT_C2PA_TRUST_ANCHORS: {path} holds no PEM certificate")
    return text


def check_registry(path: str | None) -> str | None:
    """`CONSENT_REGISTRY` (None when unset), checked to be a readable works registry; `ValueError` names it."""
    if path is None:
        return None
    from consentry.middlewares.adapters.registry import Registry, RegistryError

    try:
        Registry.open(path).close()
    except RegistryError as exc:
        raise ValueError(f"CONSENT_REGISTRY: {exc}") from None
    return path


def _boolean(name: str, value: object) -> bool:
    if value is None:
        return bool(default(name))
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}: expected a boolean, got {value!r}")


def _path(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | Path):
        raise ValueError(f"{name}: expected a file path, got {value!r}")
    return str(value)


def _seconds(name: str, value: object) -> int:
    if value is None:
        value = default(name)
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name}: must be at least 0, got {number}")
    return number


def _count(name: str, value: object) -> int:
    number = _seconds(name, value)
    if number < 1:
        raise ValueError(f"{name}: must be at least 1, got {number}")
    return number


def consent_enabled(settings: BaseSettings | Mapping[str, object]) -> bool:
    """`CONSENT_ENABLED` (default from the settings table); `ValueError` names it when it is not a boolean."""
    return _boolean("CONSENT_ENABLED", settings.get("CONSENT_ENABLED"))


def consent_settings(settings: BaseSettings | Mapping[str, object]) -> ConsentSettings:
    """Read and validate every `CONSENT_*` setting (`NotConfigured` when `CONSENT_ENABLED` is false); an unknown
    `CONSENT_*` name is a `ValueError` naming it and the closest known setting."""
    check_names(settings)
    if not consent_enabled(settings):
        from scrapy.exceptions import NotConfigured  # lazily: `check` and `audit` read this module too

        raise NotConfigured("CONSENT_ENABLED is False")
    config = policy_config_from_settings(settings)
    return ConsentSettings(
        config=config,
        trust_anchors_pem=read_trust_anchors(config.c2pa_trust_anchors),
        log_path=_path("CONSENT_LOG_PATH", settings.get("CONSENT_LOG_PATH")),
        warc_path=_path("CONSENT_WARC_PATH", settings.get("CONSENT_WARC_PATH")),
        unreachable_ttl=_seconds("CONSENT_UNREACHABLE_TTL", settings.get("CONSENT_UNREACHABLE_TTL")),
        follow_dropped_pages=_boolean("CONSENT_FOLLOW_DROPPED_PAGES", settings.get("CONSENT_FOLLOW_DROPPED_PAGES")),
        max_retry_after=_seconds("CONSENT_MAX_RETRY_AFTER", settings.get("CONSENT_MAX_RETRY_AFTER")),
        allow_private_addresses=_boolean("CONSENT_ALLOW_PRIVATE_ADDRESSES",
                                         settings.get("CONSENT_ALLOW_PRIVATE_ADDRESSES")),
        max_crawl_delay=_seconds("CONSENT_MAX_CRAWL_DELAY", settings.get("CONSENT_MAX_CRAWL_DELAY")),
        max_linked_per_response=_count("CONSENT_MAX_LINKED_PER_RESPONSE",
                                       settings.get("CONSENT_MAX_LINKED_PER_RESPONSE")),
        max_linked_per_origin=_count("CONSENT_MAX_LINKED_PER_ORIGIN", settings.get("CONSENT_MAX_LINKED_PER_ORIGIN")),
        registry_path=check_registry(_path("CONSENT_REGISTRY", settings.get("CONSENT_REGISTRY"))),
    )
