"""consentry's pure evaluation core: parsers for every consent signal, combination and decision.

No network, disk, clock, Scrapy or c2pa here (docs/architecture.md "The pure core"); a test enforces it.
"""
