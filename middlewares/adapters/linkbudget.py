"""How many linked documents (RSL licences, remote C2PA manifests) one crawl or check run fetches.

A response, or a robots.txt, can name thousands of licences and manifests (RSL 1.0 discovery, RFC 8288
`Link` headers, C2PA 2.2 §15.5.3 external manifests); fetching each would turn one hostile response into a
flood of requests. `LinkBudget` admits at most `per_response` documents for one answer and `per_origin`
distinct documents from one origin over the run (`CONSENT_MAX_LINKED_PER_RESPONSE`,
`CONSENT_MAX_LINKED_PER_ORIGIN`); every other need is answered unfetched as an unreachable `SiteFile` whose
detail says why, which the core reads as `unverifiable`, never as consent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from consentry.policies.evaluate import origin_of
from consentry.policies.gather import Need
from consentry.policies.model import SiteFile
from consentry.policies.settings_table import default

__all__ = ["DEFAULT_PER_ORIGIN", "DEFAULT_PER_RESPONSE", "LinkBudget"]

#: Linked documents fetched for one response (or one robots.txt) at most.
DEFAULT_PER_RESPONSE = int(str(default("CONSENT_MAX_LINKED_PER_RESPONSE")))
#: Distinct linked documents fetched from one origin over a run at most.
DEFAULT_PER_ORIGIN = int(str(default("CONSENT_MAX_LINKED_PER_ORIGIN")))


@dataclass
class LinkBudget:
    """Admits linked-document fetches within the per-response and per-origin caps."""

    per_response: int = DEFAULT_PER_RESPONSE
    per_origin: int = DEFAULT_PER_ORIGIN
    admitted: set[str] = field(default_factory=set)
    by_origin: Counter[str] = field(default_factory=Counter)

    def _admit(self, url: str) -> str | None:
        if url in self.admitted:
            return None
        origin = origin_of(url)
        if self.by_origin[origin] >= self.per_origin:
            return f"not fetched: more than {self.per_origin} linked documents from {origin} " \
                   "(CONSENT_MAX_LINKED_PER_ORIGIN)"
        self.by_origin[origin] += 1
        self.admitted.add(url)
        return None

    def split(self, needs: Sequence[Need]) -> tuple[list[Need], dict[str, SiteFile]]:
        """(needs to fetch, refused needs answered as unreachable with the reason); each URL once."""
        wanted = list({need.url: need for need in needs}.values())
        fetch: list[Need] = []
        refused: dict[str, SiteFile] = {}
        for need in wanted:
            why = (f"not fetched: more than {self.per_response} linked documents in one response "
                   "(CONSENT_MAX_LINKED_PER_RESPONSE)") if len(fetch) >= self.per_response else self._admit(need.url)
            if why is None:
                fetch.append(need)
            else:
                refused[need.url] = SiteFile.from_error(need.url, why)
        return fetch, refused
