"""The crawl's progress line: counts decisions and items, throttled, ends with a newline; off by default."""

from __future__ import annotations

import io

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from consentry.crawler.progress import CrawlProgress
from consentry.policies.config import PolicyConfig
from consentry.policies.decide import decide
from consentry.policies.model import Signal
from consentry.policies.vocabulary import Mechanism, Scope, Verdict

ACCESS = Signal(Mechanism.ROBOTS, Scope.SITE, "http://x/robots.txt", "no rule matches")


def test_counts_and_final_line() -> None:
    stream = io.StringIO()
    progress = CrawlProgress(stream)
    keep = decide(url="http://x/a", config=PolicyConfig(), access=Verdict.ALLOW, access_signal=ACCESS)
    skip = decide(url="http://x/b", config=PolicyConfig(), access=Verdict.DENY, access_signal=ACCESS)
    for decision in (keep, keep, skip):
        progress.decision(decision)
    progress.item()
    progress.close()
    assert stream.getvalue().endswith("\r  2 kept, 0 dropped, 1 skipped; 1 items\n")
    assert stream.getvalue().count("\r") < 6  # throttled: not one redraw per event


def test_disabled_unless_requested() -> None:
    with pytest.raises(NotConfigured):
        CrawlProgress.from_crawler(get_crawler(settings_dict={"CONSENT_PROGRESS": False}))
    assert isinstance(CrawlProgress.from_crawler(get_crawler(settings_dict={"CONSENT_PROGRESS": True})), CrawlProgress)
