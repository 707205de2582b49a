"""`--set NAME=VALUE` checked before the Scrapy engine starts (docs/cli.md, "crawl: bad input").

Owns the type check of the Scrapy settings a user overrides: each value must read as the type of Scrapy's own
default for that setting (integer, number, boolean, list, JSON object), a class-path setting must import, a
component dict's class paths must import, and `TWISTED_REACTOR` must be the asyncio reactor (the only one
`consentry crawl` runs on), `LOG_LEVEL` a level name. A failed check is a `ValueError` whose one-line message names the setting and what
it expects; `consentry.crawler.crawl.command` reports it as a usage error (exit 2). `CONSENT_*` settings are
checked by `consentry.middlewares._config.consent_settings`. Imports Scrapy: used only by the crawl's runner.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scrapy.settings import BaseSettings, default_settings
from scrapy.utils.misc import load_object

__all__ = ["ASYNCIO_REACTOR", "check_scrapy_settings"]

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

#: Settings whose default is an integer but that Scrapy reads as a number (`Settings.getfloat`).
_READ_AS_FLOAT = frozenset({"CLOSESPIDER_TIMEOUT", "DNS_TIMEOUT", "DOWNLOAD_DELAY", "DOWNLOAD_TIMEOUT",
                            "LOGSTATS_INTERVAL"})
#: String settings that are not class paths although their default looks like one.
_NOT_A_CLASS = frozenset({"USER_AGENT", "REFERRER_POLICY", "LOG_FORMAT", "LOG_DATEFORMAT"})
#: Dict settings whose keys are class paths (values: orders or None).
_COMPONENTS = re.compile(r"(MIDDLEWARES|EXTENSIONS|PIPELINES|HANDLERS|ADDONS|EXPORTERS|STORAGES)(_BASE)?$")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _reader(getter: str, expected: str) -> Callable[[BaseSettings, str], str | None]:
    def check(settings: BaseSettings, name: str) -> str | None:
        try:
            getattr(settings, getter)(name)
        except (ValueError, TypeError):
            return expected
        return None

    return check


def _class_path(settings: BaseSettings, name: str) -> str | None:
    value = settings.get(name)
    return _unimportable([value]) if isinstance(value, str) else None


def _reactor(settings: BaseSettings, name: str) -> str | None:
    if settings.get(name) == ASYNCIO_REACTOR:
        return None
    return f"{ASYNCIO_REACTOR} (the only reactor consentry crawl runs on)"


def _log_level(settings: BaseSettings, name: str) -> str | None:
    value = settings.get(name)
    if isinstance(value, int) or str(value) in logging.getLevelNamesMapping():
        return None
    return "a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"


def _components(settings: BaseSettings, name: str) -> str | None:
    try:
        value = settings.getdict(name)
    except (ValueError, TypeError):
        return "a JSON object"
    return _unimportable(key for key in value if isinstance(key, str))


def _unimportable(paths: Iterable[str]) -> str | None:
    for path in paths:
        try:
            load_object(path)
        except (ImportError, NameError, ValueError, AttributeError):
            return f"an importable class path ({path} does not import)"
    return None


_BY_TYPE: dict[type, Callable[[BaseSettings, str], str | None]] = {
    bool: _reader("getbool", "true or false"),
    int: _reader("getint", "an integer"),
    float: _reader("getfloat", "a number"),
    list: _reader("getlist", "a list"),
    tuple: _reader("getlist", "a list"),
    dict: _reader("getdict", "a JSON object"),
}


#: Settings with a check of their own.
_SPECIAL: dict[str, Callable[[BaseSettings, str], str | None]] = {"TWISTED_REACTOR": _reactor,
                                                                  "LOG_LEVEL": _log_level}


def _check_for(name: str, default: Any) -> Callable[[BaseSettings, str], str | None] | None:
    if name in _SPECIAL:
        return _SPECIAL[name]
    if isinstance(default, dict) and _COMPONENTS.search(name):
        return _components
    if isinstance(default, str) and name not in _NOT_A_CLASS and _DOTTED.fullmatch(default):
        return _class_path
    if type(default) is int and name in _READ_AS_FLOAT:
        return _BY_TYPE[float]
    return _BY_TYPE.get(type(default))


def check_scrapy_settings(settings: BaseSettings, given: Mapping[str, Any]) -> None:
    """Check the user's values (`given`, non-`CONSENT_*`, as merged into `settings`) against Scrapy's defaults;
    the first wrong one raises `ValueError` naming it. Names Scrapy does not define are left alone."""
    for name, value in given.items():
        if name.startswith("CONSENT_"):
            continue
        check = _check_for(name, getattr(default_settings, name, None))
        expected = check(settings, name) if check is not None else None
        if expected is not None:
            raise ValueError(f"--set {name}={value}: expected {expected}")
