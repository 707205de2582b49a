"""Scrapy settings of the consentry project (DESIGN.md "Scrapy integration").

The consent components replace Scrapy's fail-open `RobotsTxtMiddleware` (`ROBOTSTXT_OBEY = False`).
To add them to another Scrapy project, copy `DOWNLOADER_MIDDLEWARES`, `SPIDER_MIDDLEWARES`, `EXTENSIONS`,
`ROBOTSTXT_OBEY` and the `CONSENT_*` settings below (see README).
"""

from __future__ import annotations

from consentry.policies.config import user_agent

BOT_NAME = "consentry"
SPIDER_MODULES = ["consentry.crawler.spiders"]
NEWSPIDER_MODULE = "consentry.crawler.spiders"

# --- consent (DESIGN.md "Scrapy integration"; every CONSENT_* is validated at start-up) ---
CONSENT_ENABLED = True
CONSENT_AGENT = "consentry"
CONSENT_PURPOSES = ["ai-train"]
CONSENT_ON_DENY = "drop"  # drop | tag
CONSENT_ON_UNKNOWN = "keep"  # keep | drop
CONSENT_ON_UNVERIFIABLE = "drop"  # drop | keep
CONSENT_INFERRED = "enforce"  # enforce | tag | ignore
CONSENT_SITEFILE_TTL = 86_400  # seconds an OK/4xx site file is trusted
CONSENT_UNREACHABLE_TTL = 60  # seconds before an unreachable site file is fetched again
CONSENT_MAX_SITEFILE_BYTES = 512_000  # RFC 9309: at least 500 KiB
CONSENT_C2PA_MAX_BYTES = 50 * 1024 * 1024
CONSENT_C2PA_TRUST_ANCHORS = None  # path to a PEM file
CONSENT_LOG_PATH = None  # the decision log (JSON lines); None disables DecisionLogExtension
CONSENT_WARC_PATH = None  # the crawl's WARC; None disables WarcExtension

ROBOTSTXT_OBEY = False
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "consentry.middlewares.sitefiles.SiteFilesMiddleware": 100,
    "consentry.middlewares.assets.AssetConsentMiddleware": 120,
}
SPIDER_MIDDLEWARES = {
    "consentry.middlewares.tagging.ConsentTagMiddleware": 800,
}
EXTENSIONS = {
    "consentry.middlewares.decisionlog.DecisionLogExtension": 500,
    "consentry.middlewares.warc.WarcExtension": 500,
}

USER_AGENT = user_agent(CONSENT_AGENT)
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 256 * 1024 * 1024
RETRY_TIMES = 1
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
LOG_LEVEL = "INFO"
