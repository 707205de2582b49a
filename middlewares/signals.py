"""The Scrapy signals consentry sends (DESIGN.md "Scrapy integration"); bare `object()`s, as Scrapy's own.

`consent_decision` is sent once per `Decision`, BEFORE the crawl applies it (drops or ignores the
request), with keyword arguments `decision` (policies.record.Decision), `request`, `response` (None for
a `skip`) and `spider`. The decision log and the WARC writer listen to it.
"""

from __future__ import annotations

__all__ = ["consent_decision"]

consent_decision = object()
