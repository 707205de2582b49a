"""The Scrapy signals consentry sends (docs/architecture.md); bare `object()`s, as Scrapy's own.

`consent_decision` is sent once per `Decision`, BEFORE the crawl applies it (drops or ignores the
request), with keyword arguments `decision` (consentry.policies.record.Decision), `request`, `response` (None for
a `skip`), `spider` and `payload` (the decision's `consentry.decision/1` record as UTF-8 JSON, serialised once
for every listener: the decision log's line and the WARC metadata record are these bytes). The decision log and
the WARC writer listen to it.

`consent_fetch_failed` is sent when a site file, licence or remote manifest could not be fetched at all
(timeout, refused or dropped connection), with `url` (the URL that failed) and `detail` (the text the
decision's evidence uses), so the WARC keeps what the decision rested on even without a response.
"""

from __future__ import annotations

__all__ = ["consent_decision", "consent_fetch_failed"]

consent_decision = object()
consent_fetch_failed = object()
