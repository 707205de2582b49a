"""consentry's spiders (docs/architecture.md "Layout"): the generic asset spider."""

from __future__ import annotations

from consentry.crawler.spiders.assets import AssetSpider

__all__ = ["AssetSpider"]
