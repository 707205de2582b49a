"""Well-known AI crawler product tokens and the usage statement a robots.txt block of each implies
(SPECS §2.7 "Full AIR key list", §2.8, §12.2). Pure: the table is package data read once at import.

`data/ai_tokens.json` was generated once from ai-robots-txt/ai.robots.txt `robots.json` at commit
738c80d (166 keys; /work/shared/data/ai-robots.json): each key is filed under the class SPECS §2.7
lists it in (T train/dataset, S AI search, U user/agent, X mixed; the "S/X" AI-search and data-provider
entries count as S: they feed AI answers/RAG, i.e. ai-input), with AIR's `operator` and `function` kept
for evidence. Statements: T -> ai-train DENY; Google-Extended -> genai-train + ai-input DENY;
Applebot-Extended -> genai-train DENY; S -> ai-input DENY; U and X -> none (no inference).
Keys are product tokens as RFC 9309 matching sees them (leading `[A-Za-z_-]` run, lower-cased, so
"Brightbot 1.0" -> "brightbot", "AI2Bot" -> "ai"); where two AIR names collapse to one key, the more
restrictive class wins (T > S > X > U) and every AIR name is kept in `aliases`.
JSON rather than a literal: it stays diffable against AIR and is read with `importlib.resources`
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
