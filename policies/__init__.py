"""consentry's pure evaluation core: parsers for every consent signal, combination and decision.

No network, disk, clock, Scrapy or c2pa here (DESIGN.md, STYLE.md rule 1); a test enforces it.
"""
