"""Well-known AI crawler product tokens and the usage statement a robots.txt block of each implies
(docs/signals/robots.md "Inferred AI-crawler groups"). Pure: the table is package data read once at import.

Source: the public list of the ai.robots.txt project (https://github.com/ai-robots-txt/ai.robots.txt,
file `robots.json`, commit 738c80d of 2026-08-22, 166 names), recorded in the JSON's `source` field. Each
name is filed under a class read from the list's `function` and `description` fields (T training/dataset,
S AI search or AI data provider — they feed AI answers/RAG, i.e. ai-input —, U user-triggered/agent,
X mixed or unclear; `listed_class` keeps the class as first assigned, e.g. "S/X"), with AIR's `operator`
and `function` kept for evidence. Statements: T -> ai-train DENY; Google-Extended -> genai-train + ai-input
DENY; Applebot-Extended -> genai-train DENY; S -> ai-input DENY; U and X -> none (no inference).
Keys are product tokens as RFC 9309 matching sees them (`product_token`: leading `[A-Za-z_-]` run,
lower-cased, so "Brightbot 1.0" -> "brightbot", "AI2Bot" -> "ai"); where two names collapse to one key, the
more restrictive class wins (T > S > X > U) and every name is kept in `aliases`.

Regenerating `data/ai_tokens.json` (by hand; there is no generator script): take `robots.json` from a newer
commit of the project; keep the class of every name already in `aliases`; give each new name a class from its
`function`/`description` by the rules above; reduce names with `product_token` and merge collisions as above;
write the `statement` of each class; update `source` with the commit and date. The table in
docs/signals/robots.md and the tests in tests/policies/test_robots.py show the expected effect.
JSON rather than a literal: it stays diffable against the upstream list and is read with `importlib.resources`
(no os/pathlib), once, at import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from consentry.policies.vocabulary import Purpose, Verdict

__all__ = ["TOKENS", "AiToken"]


@dataclass(frozen=True, slots=True)
class AiToken:
    """One well-known AI product token: its AIR name(s), purpose class and implied statement."""

    key: str
    name: str
    purpose_class: str
    operator: str
    function: str
    statement: Mapping[Purpose, Verdict] | None
    aliases: tuple[str, ...]

    def describe(self) -> str:
        """A short description for evidence: name, operator, AIR function, class."""
        return f"{self.name} ({self.operator}; {self.function}; class {self.purpose_class})"


def _load() -> dict[str, AiToken]:
    raw = json.loads((resources.files("consentry.policies") / "data" / "ai_tokens.json").read_text(encoding="utf-8"))
    tokens: dict[str, AiToken] = {}
    for key, entry in raw["tokens"].items():
        statement = entry["statement"]
        tokens[key] = AiToken(
            key=key,
            name=entry["token"],
            purpose_class=entry["class"],
            operator=entry["operator"],
            function=entry["function"],
            statement=None if statement is None else {Purpose(p): Verdict(v) for p, v in statement.items()},
            aliases=tuple(entry["aliases"]),
        )
    return tokens


#: product-token key -> entry.
TOKENS: Mapping[str, AiToken] = _load()
