"""W3C TDM Reservation Protocol: tdmrep.json, `tdm-reservation` headers and HTML meta, layered (docs/signals/tdmrep.md).

Pure. Grammar (TDMRep CG-FINAL, its techniques): `tdmrep.json = "[" rule *("," rule) "]"`, `rule = {"location": path-pattern,
"tdm-reservation": 0|1 [, "tdm-policy": URL]}`; header `tdm-reservation: 0|1`, `tdm-policy: URL`; HTML
`<meta name="tdm-reservation" content="0|1">`. Layers: file < header < HTML < EPUB/PDF; absence never resets (TDMRep
"Processing priority").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from consentry.policies.html import HtmlHead
from consentry.policies.model import AssetResponse, FetchStatus, Signal, SiteFile
from consentry.policies.robots.urlpattern import PathPattern, compile_pattern, match_key, request_path
from consentry.policies.vocabulary import Mechanism, Purpose, Scope, Tag, Verdict

__all__ = [
    "TdmDeclaration",
    "TdmLayer",
    "TdmRule",
    "TdmrepFile",
    "header_layer",
    "header_warnings",
    "html_layer",
    "html_warnings",
    "signals",
]

_MAX_SHOWN = 200  # characters of a remote value quoted in evidence
_MAX_LINES = 10  # field lines / elements quoted in evidence
_STRICT = {0: 0, 1: 1}
_LENIENT: dict[object, int] = {"1": 1, "0": 0, True: 1, False: 0}
_RESERVED: Mapping[Purpose, Verdict] = {Purpose.AI_TRAIN: Verdict.DENY, Purpose.AI_INPUT: Verdict.DENY}
_NOT_RESERVED: Mapping[Purpose, Verdict] = {Purpose.TDM: Verdict.ALLOW}


def _shown(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"


class TdmDeclaration(NamedTuple):
    """TDMRep declared inside an asset (PDF XMP, EPUB OPF; W3C TDMRep §5.4, §5.5).

    `reservation` 1/0 or None (absent or invalid), `policy` the `tdm:policy` URL, `evidence` what was read
    ("" when nothing was declared), `lenient` whether it was read leniently (e.g. an undeclared `tdm:` prefix).
    """

    reservation: int | None
    policy: str | None
    evidence: str
    lenient: bool = False


@dataclass(frozen=True, slots=True)
class TdmLayer:
    """One TDMRep processing step's values ("Processing priority"). `reservation` None means the step was present but unset."""

    mechanism: Mechanism
    scope: Scope
    source: str
    reservation: int | None
    policy: str | None
    evidence: str
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class TdmRule:
    """One valid rule of tdmrep.json; `index` is its 1-based position in the array."""

    index: int
    pattern: PathPattern
    reservation: int
    policy: str | None
    evidence: str
    tags: tuple[Tag, ...] = ()


def _reservation(raw: object) -> tuple[int | None, tuple[Tag, ...]]:
    """JSON 0/1 strictly; `"0"`/`"1"`/false/true leniently (tagged); anything else unset (docs/readings.md)."""
    if not isinstance(raw, bool) and isinstance(raw, int) and raw in _STRICT:
        return _STRICT[raw], ()
    key = raw.strip() if isinstance(raw, str) else raw
    if isinstance(key, str | bool) and key in _LENIENT:
        return _LENIENT[key], (Tag.LENIENT,)
    return None, ()


def _rule(index: int, raw: object) -> TdmRule | str:
    """A valid rule, or the warning that explains why the array element was skipped."""
    if not isinstance(raw, dict):
        return f"rule {index}: not a JSON object; skipped"
    location, value, policy = raw.get("location"), raw.get("tdm-reservation"), raw.get("tdm-policy")
    if not isinstance(location, str):
        return f"rule {index}: missing or non-string 'location'; skipped"
    pattern = compile_pattern(location)
    if pattern is None:
        return f"rule {index}: empty 'location' matches nothing; skipped"
    if "tdm-reservation" not in raw:
        return f"rule {index}: missing mandatory 'tdm-reservation'; skipped"
    reservation, tags = _reservation(value)
    if reservation is None:
        return (
            f"rule {index}: 'tdm-reservation' {_shown(repr(value))} is not 0 or 1 (protocol error); skipped"
        )
    shown_value = _shown(value) if isinstance(value, str) else value
    shown: dict[str, object] = {"location": _shown(location), "tdm-reservation": shown_value}
    if isinstance(policy, str) and policy.strip():
        shown["tdm-policy"] = _shown(policy.strip())
    evidence = f"rule {index}: {json.dumps(shown, ensure_ascii=False)}"
    if tags:
        evidence += f" (lenient: {value!r} read as {reservation})"
    if pattern.lenient:
        tags = (*tags, Tag.LENIENT)
        evidence += " (lenient: location without leading '/')"
    clean_policy = policy.strip() if isinstance(policy, str) and policy.strip() else None
    return TdmRule(index, pattern, reservation, clean_policy, evidence, tuple(dict.fromkeys(tags)))


def _load(text: str) -> tuple[list[object] | None, str]:
    """The JSON array, or None and the reason. Deep nesting (RecursionError) counts as invalid JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"not valid JSON ({type(exc).__name__}); file ignored"
    if not isinstance(data, list):
        return (
            None,
            f"top level is a JSON {type(data).__name__}, not an array (brackets are mandatory); file ignored",
        )
    return data, ""


@dataclass(frozen=True, slots=True)
class TdmrepFile:
    """A parsed /.well-known/tdmrep.json (TDMRep: the well-known file), with the fetch outcome it came from."""

    source: str
    status: FetchStatus
    detail: str = ""
    rules: tuple[TdmRule, ...] = ()
    warnings: tuple[str, ...] = ()
    _layers: tuple[TdmLayer, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A rule's layer does not depend on the URL (only the ordering trap does): build each once.
        object.__setattr__(self, "_layers", tuple(self._build_layer(rule) for rule in self.rules))

    @classmethod
    def parse(cls, site_file: SiteFile) -> TdmrepFile:
        """Parse a fetched tdmrep.json. Never raises: bad rules are skipped, a bad file has no rules; a
        body that cannot be decoded (UTF-16/32 BOM over bad data) is an unreachable file, not an empty one."""
        site_file = site_file.readable()
        base = cls(site_file.url, site_file.status, site_file.describe())
        if site_file.status is not FetchStatus.OK:
            return base
        data, problem = _load(site_file.text)
        if data is None:
            note = " (the body was truncated at the size cap)" if site_file.truncated else ""
            return cls(base.source, base.status, base.detail, (), (problem + note,))
        rules: list[TdmRule] = []
        warnings: list[str] = []
        for index, raw in enumerate(data, start=1):
            parsed = _rule(index, raw)
            if isinstance(parsed, str):
                warnings.append(parsed)
            else:
                rules.append(parsed)
        return cls(base.source, base.status, base.detail, tuple(rules), tuple(warnings))

    def layer(self, url: str) -> TdmLayer | None:
        """The site layer for `url`: the first matching rule in array order (TDMRep); None if no rule matches.

        Ordering trap (docs/readings.md): a later matching rule that reserves overrides a first-match 0,
        tagged `conflict` (conservative reading).
        """
        rules = self.rules
        if not rules:
            return None
        key = match_key(request_path(url))
        position = 0
        for first in rules:
            if first.pattern.matcher(key):
                break
            position += 1
        else:
            return None
        if first.reservation == 0:
            for later in rules[position + 1:]:
                if later.reservation == 1 and later.pattern.matcher(key):
                    return self._conflict_layer(first, later)
        return self._layers[position]

    def _build_layer(self, rule: TdmRule) -> TdmLayer:
        return TdmLayer(Mechanism.TDMREP_FILE, Scope.SITE, self.source, rule.reservation, rule.policy,
                        rule.evidence, tuple(dict.fromkeys(rule.tags)))

    def _conflict_layer(self, first: TdmRule, later: TdmRule) -> TdmLayer:
        evidence = (f"{first.evidence}; {later.evidence} also matches and reserves "
                    "(conflict: first match says 0; treated as 1)")
        tags = tuple(dict.fromkeys((*first.tags, *later.tags, Tag.CONFLICT)))
        return TdmLayer(Mechanism.TDMREP_FILE, Scope.SITE, self.source, later.reservation, later.policy,
                        evidence, tags)

    def unreachable_signal(self) -> Signal | None:
        """For a 5xx/unreachable file: an empty statement tagged `unverifiable`; else None."""
        if self.status is not FetchStatus.UNREACHABLE:
            return None
        evidence = f"tdmrep.json could not be read: {self.detail}; site-level TDMRep unknown until re-fetched"
        return Signal(Mechanism.TDMREP_FILE, Scope.SITE, self.source, evidence, {}, (Tag.UNVERIFIABLE,))


def _read_values(values: Sequence[str], label: str) -> tuple[int | None, tuple[Tag, ...], list[str]]:
    """Read `tdm-reservation` field values: each may be a comma-joined list; disagreement → 1 + conflict."""
    items = [part.strip() for value in values for part in value.split(",")]
    found = {int(item) for item in items if item in ("0", "1")}
    bad = [_shown(item) for item in items if item and item not in ("0", "1")]
    more = " …" if len(bad) > 3 else ""
    notes = [f"{label} {', '.join(map(repr, bad[:3]))}{more} not 0 or 1 (protocol error)"] if bad else []
    if not found:
        return None, (), notes
    if len(found) > 1:
        notes.append(f"{label} values disagree (0 and 1); treated as 1 (conservative)")
        return 1, (Tag.CONFLICT,), notes
    return found.pop(), (), notes


def _first_policy(values: Sequence[str]) -> str | None:
    cleaned = [value.strip() for value in values if value.strip()]
    return cleaned[0] if cleaned else None


def _header_reading(response: AssetResponse) -> tuple[TdmLayer | None, list[str]]:
    lines = response.header("tdm-reservation")
    if not lines:
        return None, []
    reservation, tags, notes = _read_values(lines, "header tdm-reservation")
    if reservation is None:
        return None, notes
    policy = _first_policy(response.header("tdm-policy"))
    shown = [f"tdm-reservation: {_shown(line)}" for line in lines[:_MAX_LINES]]
    if policy:
        shown.append(f"tdm-policy: {_shown(policy)}")
    evidence = "; ".join(shown + notes)
    return TdmLayer(
        Mechanism.TDMREP_HEADER, Scope.RESPONSE, response.url, reservation, policy, evidence, tags
    ), notes


def header_layer(response: AssetResponse) -> TdmLayer | None:
    """The response-header layer (TDMRep: HTTP headers); None when no valid `tdm-reservation` is present."""
    return _header_reading(response)[0]


def header_warnings(response: AssetResponse) -> tuple[str, ...]:
    """Site-owner notes about the TDMRep headers: protocol errors (`tdm-reservation: yes`), disagreements."""
    return tuple(_header_reading(response)[1])


def _html_reading(head: HtmlHead, url: str) -> tuple[TdmLayer | None, list[str]]:
    named, equiv = head.meta("tdm-reservation"), head.meta("tdm-reservation", attribute="http-equiv")
    if not named and not equiv:
        return None, []
    reservation, tags, notes = _read_values([*named, *equiv], "meta tdm-reservation")
    if reservation is None:
        return None, notes
    if equiv:
        tags = (*tags, Tag.LENIENT)
        notes.append('http-equiv="tdm-reservation" accepted as a lenient extension (out of scope in TDMRep)')
    policy = _first_policy([*head.meta("tdm-policy"), *head.meta("tdm-policy", attribute="http-equiv")])
    shown = [f'<meta name="tdm-reservation" content="{_shown(c)}">' for c in named[:_MAX_LINES]]
    shown += [f'<meta http-equiv="tdm-reservation" content="{_shown(c)}">' for c in equiv[:_MAX_LINES]]
    if policy:
        shown.append(f'<meta name="tdm-policy" content="{_shown(policy)}">')
    evidence = "; ".join(shown + notes)
    return TdmLayer(Mechanism.TDMREP_HTML, Scope.DOCUMENT, url, reservation, policy, evidence, tags), notes


def html_layer(head: HtmlHead, url: str) -> TdmLayer | None:
    """The HTML meta layer (TDMRep: HTML), for the HTML document itself only; None when unset."""
    return _html_reading(head, url)[0]


def html_warnings(head: HtmlHead) -> tuple[str, ...]:
    """Site-owner notes about the TDMRep meta elements (protocol errors, disagreements, http-equiv)."""
    return tuple(_html_reading(head, "")[1])


def _layer_signal(layer: TdmLayer, *, counted: bool, superseded_by: Mechanism | None) -> Signal:
    """Map one layer (docs/signals/tdmrep.md): 1 → ai-train/ai-input DENY (search not covered); 0 → tdm ALLOW, hierarchical."""
    parts = [layer.evidence]
    if layer.reservation is None:
        parts.append("tdm-reservation unset at this step; earlier layers stand")
        statement: Mapping[Purpose, Verdict] = {}
    elif layer.reservation == 1:
        parts.append("search not covered (TDMRep CG position)")
        if layer.policy:
            parts.append(f"tdm-policy {_shown(layer.policy)} is a licensing offer, not consent")
        statement = _RESERVED
    else:
        if layer.policy:
            parts.append("tdm-policy with reservation 0 not processed (SHOULD NOT)")
        statement = _NOT_RESERVED
    evidence = "; ".join(parts)
    if superseded_by is not None:
        evidence += f" (superseded by {superseded_by.value})"
    return Signal(
        layer.mechanism,
        layer.scope,
        layer.source,
        evidence,
        dict(statement),
        layer.tags,
        hierarchical=layer.reservation == 0,
        counted=counted,
    )


def signals(layers: Sequence[TdmLayer | None]) -> list[Signal]:
    """One Signal per present layer, given in priority order (file, header, HTML, PDF/EPUB; TDMRep
    "Processing priority").

    The last layer with a value is the effective one (counted); earlier valued layers are recorded
    uncounted as superseded; a layer without a value never resets the current one.
    """
    present = [layer for layer in layers if layer is not None]
    valued = [i for i, layer in enumerate(present) if layer.reservation is not None]
    final = valued[-1] if valued else -1
    out: list[Signal] = []
    for i, layer in enumerate(present):
        if layer.reservation is None or i == final:
            out.append(_layer_signal(layer, counted=i == final, superseded_by=None))
        else:
            out.append(_layer_signal(layer, counted=False, superseded_by=present[final].mechanism))
    return out
