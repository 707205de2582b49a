"""Fixtures shared by the front-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consentry.crawler.demo.server import SiteServer


@pytest.fixture
def servers() -> Iterator[list[SiteServer]]:
    """A list the test appends its started loopback servers to; each is stopped afterwards."""
    started: list[SiteServer] = []
    yield started
    for server in started:
        server.stop()
