"""`ConsentAddon`: every consent component in a Scrapy project with one line (Scrapy add-ons).

To activate it, add ``ADDONS = {"consentry.middlewares.addon.ConsentAddon": 0}`` to the project settings. It
installs the components at their orders (downloader: `FetchGuardMiddleware` 50, `SiteFilesMiddleware` 100,
`AssetConsentMiddleware` 120, `OriginPolitenessMiddleware` 950 (download slots per origin, `Retry-After`);
spider: `ConsentTagMiddleware` 800, `LeaseOutputMiddleware` 850 (distributed crawls only); extensions: `DecisionLogExtension` and `WarcExtension` 500,
`ClusterExtension` 510 — a distributed crawl's run, only with `CONSENT_REDIS_URL`), turns
Scrapy's `RobotsTxtMiddleware` off (it lets requests through when robots.txt is unreachable, where RFC 9309
§2.3.1.4 asks for complete disallow; `SiteFilesMiddleware` applies robots.txt instead), sets every `CONSENT_*`
default and a User-Agent carrying `CONSENT_AGENT` at add-on priority (the project's own settings win), and
refuses a Twisted reactor other than asyncio's. With `CONSENT_ENABLED = False` it changes nothing. A component the project already lists (even as None) keeps
the project's order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

from consentry.middlewares._config import consent_enabled
from consentry.middlewares.assets import AssetConsentMiddleware
from consentry.middlewares.cluster import ClusterExtension, LeaseOutputMiddleware
from consentry.middlewares.decisionlog import DecisionLogExtension
from consentry.middlewares.fetchguard import FetchGuardMiddleware
from consentry.middlewares.politeness import OriginPolitenessMiddleware
from consentry.middlewares.sitefiles import SiteFilesMiddleware
from consentry.middlewares.tagging import ConsentTagMiddleware
from consentry.middlewares.warc import WarcExtension
from consentry.policies.config import is_product_token, user_agent
from consentry.policies.settings_table import defaults

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["ASYNCIO_REACTOR", "COMPONENTS", "ConsentAddon"]

logger = logging.getLogger(__name__)

#: The only Twisted reactor the consent components run under (they await asyncio tasks).
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

#: component-priority setting -> (component, order).
COMPONENTS: dict[str, tuple[tuple[type, int], ...]] = {
    "DOWNLOADER_MIDDLEWARES": (
        (FetchGuardMiddleware, 50), (SiteFilesMiddleware, 100), (AssetConsentMiddleware, 120),
        (OriginPolitenessMiddleware, 950),
    ),
    "SPIDER_MIDDLEWARES": ((ConsentTagMiddleware, 800), (LeaseOutputMiddleware, 850)),
    "EXTENSIONS": ((DecisionLogExtension, 500), (WarcExtension, 500), (ClusterExtension, 510)),
}


def _require_asyncio(settings: BaseSettings) -> None:
    if not settings.getbool("TWISTED_REACTOR_ENABLED", True):
        return  # no Twisted reactor: Scrapy runs on the asyncio event loop itself
    reactor = settings.get("TWISTED_REACTOR")
    if reactor != ASYNCIO_REACTOR:
        raise ValueError(
            f"TWISTED_REACTOR: consentry needs the asyncio reactor, got {reactor!r}; "
            f'set TWISTED_REACTOR = "{ASYNCIO_REACTOR}"'
        )


def _replace_robotstxt(settings: BaseSettings) -> None:
    if settings.getbool("ROBOTSTXT_OBEY") and (settings.getpriority("ROBOTSTXT_OBEY") or 0) > 0:
        logger.warning(
            "ROBOTSTXT_OBEY = True is replaced by consentry's SiteFilesMiddleware: Scrapy's RobotsTxtMiddleware "
            "lets requests through when robots.txt cannot be fetched; the add-on turns it off"
        )
    settings.set("ROBOTSTXT_OBEY", False, priority=max(settings.getpriority("ROBOTSTXT_OBEY") or 0,
                                                       SETTINGS_PRIORITIES["addon"]))
    settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)


class ConsentAddon:
    """Scrapy add-on: consent components, robots.txt through consentry, `CONSENT_*` defaults."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Apply the add-on to the project `settings` (`ValueError` for a reactor other than asyncio's);
        `NotConfigured` (the add-on changes nothing) when `CONSENT_ENABLED` is false."""
        if not consent_enabled(settings):
            raise NotConfigured("CONSENT_ENABLED is False")
        _require_asyncio(settings)
        _replace_robotstxt(settings)
        for name, components in COMPONENTS.items():
            for component, order in components:
                settings.setdefault_in_component_priority_dict(name, component, order)
        for name, value in defaults().items():
            settings.set(name, value, priority="addon")
        agent = settings.get("CONSENT_AGENT")
        if isinstance(agent, str) and is_product_token(agent):
            settings.set("USER_AGENT", user_agent(agent), priority="addon")
