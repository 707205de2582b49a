"""Scrapy settings of `consentry crawl` (and of `scrapy crawl` in this repository).

Every consent component comes from the add-on (`consentry.middlewares.addon.ConsentAddon`), which also turns
Scrapy's fail-open `RobotsTxtMiddleware` off and sets the `CONSENT_*` defaults of the one settings table
(`consentry.policies.settings_table`). To use the components in another Scrapy project, add the same
`ADDONS` line, or wire them by hand (see README "Using the middlewares in your own Scrapy project").
"""

from __future__ import annotations

from consentry.policies.config import user_agent
from consentry.policies.settings_table import default

BOT_NAME = "consentry"
SPIDER_MODULES = ["consentry.crawler.spiders"]
NEWSPIDER_MODULE = "consentry.crawler.spiders"

ADDONS = {"consentry.middlewares.addon.ConsentAddon": 0}

USER_AGENT = user_agent(str(default("CONSENT_AGENT")))
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 256 * 1024 * 1024
# No cookie jar: a response demanding a login or payment is recorded as access-restricted, and nothing a site
# set (a paywall's session cookie) is ever sent back (README "Compliance").
COOKIES_ENABLED = False
RETRY_TIMES = 1
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
LOG_LEVEL = "INFO"
