"""The line-oriented robots.txt record parser and RFC 9309 group selection, shared by robots.txt and
Spawning ai.txt (RFC 9309 §2.2, §2.2.1, §2.2.4, §2.3.1.5; docs/signals/robots.md). Pure.

Grammar (RFC 9309 §2.2, with the "other records" of §2.2.4):
    group          = startgroupline *(startgroupline / emptyline) *(rule / other / emptyline)
    startgroupline = *WS "user-agent" *WS ":" *WS product-token EOL
    rule           = *WS ("allow" / "disallow") *WS ":" *WS (path-pattern / empty-pattern) EOL
    EOL            = *WS [comment] NL      ; NL = CR / LF / CRLF, comment = "#" to end of line
A user-agent line after a group-scoped rule (Allow/Disallow, and the extension rules Content-Usage —
a `rule` in attach-05's ABNF —, Content-Signal, DisallowAITraining/AllowAITraining, Crawl-delay) starts a
new group (docs/signals/robots.md); site-wide or unknown records (License, Sitemap, others) never end a group
nor close its user-agent lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACCESS_FIELDS",
    "GLOBAL_AGENT",
    "Group",
    "Line",
    "RobotsFile",
    "parse_groups",
    "product_token",
    "select_groups",
]

#: The product token of the global group.
GLOBAL_AGENT = "*"
#: RFC 9309 access rules.
ACCESS_FIELDS = frozenset({"allow", "disallow"})
#: Group-scoped records: after one of them, a user-agent line starts a new group.
_RULE_FIELDS = ACCESS_FIELDS | {
    "content-usage",
    "content-signal",
    "disallowaitraining",
    "allowaitraining",
    "crawl-delay",
}
#: Lines listed by name in the warnings before the rest is only counted.
_MAX_LISTED = 5
#: Remarks kept per file (a hostile file cannot flood the site owner's report).
_MAX_NOTES = 25

# Canonical field name -> lenient spellings seen in the wild (Protego's alias sets).
_USER_AGENT_FIELD = frozenset({"user-agent", "useragent", "user agent", "user_agent"})
_DISALLOW_FIELD = frozenset({"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"})
_ALLOW_FIELD = frozenset({"allow"})
_CONTENT_USAGE_FIELD = frozenset({"content-usage"})
_CONTENT_SIGNAL_FIELD = frozenset({"content-signal"})
_LICENSE_FIELD = frozenset({"license"})
_DISALLOW_AI_TRAINING_FIELD = frozenset({"disallowaitraining"})
_ALLOW_AI_TRAINING_FIELD = frozenset({"allowaitraining"})
#: Other records we recognise but do not interpret (RFC 9309 §2.2.4).
_IGNORED_FIELDS = frozenset(
    {"sitemap", "crawl-delay", "host", "request-rate", "visit-time", "clean-param", "noindex", "nofollow"}
)

_CANONICAL: dict[str, str] = {}
for _name, _aliases in (
    ("user-agent", _USER_AGENT_FIELD),
    ("disallow", _DISALLOW_FIELD),
    ("allow", _ALLOW_FIELD),
    ("content-usage", _CONTENT_USAGE_FIELD),
    ("content-signal", _CONTENT_SIGNAL_FIELD),
    ("license", _LICENSE_FIELD),
    ("disallowaitraining", _DISALLOW_AI_TRAINING_FIELD),
    ("allowaitraining", _ALLOW_AI_TRAINING_FIELD),
):
    _CANONICAL.update(dict.fromkeys(_aliases, _name))
_CANONICAL.update({name: name for name in _IGNORED_FIELDS})

_NEWLINE = re.compile(r"\r\n|\r|\n")
_TOKEN = re.compile(r"[A-Za-z_-]*")
_VALID_TOKEN = re.compile(r"[A-Za-z_-]+")
# C0 controls other than HTAB are not UTF8-char-noctl (RFC 9309 §2.2); dropping them keeps the rule.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A BOM repeated, truncated (`\xef\xbb` decodes to U+FFFD) or read as Latin-1 (`ï»¿`) before line 1.
_BOM_DEBRIS = re.compile("^(?:\ufeff|\ufffd|\u00ef\u00bb\u00bf|\u00ef\u00bb|\u00ef)+")


@dataclass(frozen=True, slots=True)
class Line:
    """One record: `field` canonical lower-case, `value` without comment or surrounding whitespace,
    `text` the record as written (comment stripped), `number` 1-based."""

    number: int
    field: str
    value: str
    text: str


@dataclass(frozen=True, slots=True)
class Group:
    """A group: the product tokens it names (lower-cased; `*` for the global agent), the user-agent
    values as written, and every non-user-agent record in it, in file order."""

    agents: tuple[str, ...]
    names: tuple[str, ...]
    records: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class RobotsFile:
    """A parsed robots-style file: groups, records before the first user-agent line, remarks."""

    groups: tuple[Group, ...] = ()
    ungrouped: tuple[Line, ...] = ()
    warnings: tuple[str, ...] = ()
    lenient: bool = False

    def records(self, field: str) -> list[Line]:
        """Every record named `field` anywhere in the file (grouped or not), in file order."""
        found = [line for line in self.ungrouped if line.field == field]
        found += [line for group in self.groups for line in group.records if line.field == field]
        return sorted(found, key=lambda line: line.number)


def product_token(value: str) -> str:
    """The product token a user-agent value names, lower-cased, as Google's parser extracts it
    (docs/signals/robots.md): `*` (also followed by more text) is the global agent, otherwise the leading
    `[A-Za-z_-]` run (`iaskspider/2.0` -> `iaskspider`); '' if there is none."""
    value = value.strip()
    if value.startswith(GLOBAL_AGENT):
        return GLOBAL_AGENT
    match = _TOKEN.match(value)
    return match.group(0).lower() if match else ""


def _split(raw: str) -> tuple[str, str, bool] | None:
    """(field as written, value, colon missing) of a line without its comment; None if it has no field.

    A line without a colon is read as `field value` when it is exactly two whitespace-separated words,
    as Google's parser, Protego and robotspy read it (`disallow /`); the caller tags that lenient.
    """
    field, colon, value = raw.partition(":")
    if colon:
        return field.strip(), value.strip(), False
    words = raw.split()
    if len(words) != 2:
        return None
    return words[0], words[1], True


def _strip_bom(raw: str) -> str:
    """Line 1 without leading byte-order-mark debris (U+FEFF, a mangled BOM decoded as U+FFFD, `ï»¿`)."""
    return _BOM_DEBRIS.sub("", raw, count=1)


class _Builder:
    """The state of the single pass over the lines."""

    def __init__(self) -> None:
        self.groups: list[Group] = []
        self.agents: list[str] = []
        self.names: list[str] = []
        self.records: list[Line] = []
        self.ungrouped: list[Line] = []
        self.in_rules = False
        self.started = False
        self.unparsed: list[str] = []
        self.notes: list[str] = []
        self.lenient = False

    def close(self) -> None:
        if self.started:
            self.groups.append(Group(tuple(self.agents), tuple(self.names), tuple(self.records)))
        self.agents, self.names, self.records = [], [], []

    def user_agent(self, line: Line) -> None:
        if self.in_rules or not self.started:
            self.close()
            self.started, self.in_rules = True, False
        token = product_token(line.value)
        self.agents.append(token)
        self.names.append(line.value)
        if token != GLOBAL_AGENT and _VALID_TOKEN.fullmatch(line.value) is None:
            shown = f"matched as {token!r}" if token else "matches no crawler"
            self.notes.append(
                f"line {line.number}: user-agent {line.value!r} is not a valid product token ({shown})"
            )

    def record(self, line: Line) -> None:
        if not self.started:
            self.ungrouped.append(line)
            if line.field not in _IGNORED_FIELDS | {"license", "content-signal"}:
                self.notes.append(
                    f"line {line.number}: {line.text!r} comes before any user-agent line (no group)"
                )
            return
        self.records.append(line)
        if line.field in _RULE_FIELDS:
            self.in_rules = True


def _feed(builder: _Builder, number: int, raw: str) -> None:
    if _CONTROLS.search(raw):
        raw = _CONTROLS.sub("", raw)
        if not builder.lenient:
            builder.notes.append(
                f"line {number}: control characters removed (lenient; first of possibly more)"
            )
        builder.lenient = True
    if number == 1 and (stripped := _strip_bom(raw)) != raw:
        builder.lenient = True
        builder.notes.append(f"line 1: stray byte-order-mark bytes before {stripped[:20]!r} ignored (lenient)")
        raw = stripped
    text = raw.split("#", 1)[0].strip()
    if not text:
        return
    split = _split(text)
    field = _CANONICAL.get(" ".join(split[0].lower().split())) if split else None
    if split is None or field is None:
        builder.unparsed.append(f"{number} ({text[:40]!r})")
        return
    if split[2]:
        builder.lenient = True
        builder.notes.append(f"line {number}: {text!r} has no ':' and is read as '{field}: {split[1]}' (lenient)")
    elif split[0].lower() != field:
        builder.lenient = True
        builder.notes.append(f"line {number}: {split[0]!r} read as {field!r} (lenient)")
    line = Line(number, field, split[1], text)
    if field == "user-agent":
        builder.user_agent(line)
    else:
        builder.record(line)


def parse_groups(text: str) -> RobotsFile:
    """Parse every line of `text` into groups (RFC 9309 §2.2); never raises, unparsable lines are noted."""
    builder = _Builder()
    for number, raw in enumerate(_NEWLINE.split(text), start=1):
        _feed(builder, number, raw)
    builder.close()
    notes = builder.notes[:_MAX_NOTES]
    if len(builder.notes) > _MAX_NOTES:
        notes.append(f"... and {len(builder.notes) - _MAX_NOTES} more remarks")
    if builder.unparsed:
        listed = ", ".join(builder.unparsed[:_MAX_LISTED])
        more = len(builder.unparsed) - _MAX_LISTED
        notes.append(f"lines that parse to nothing: {listed}" + (f" and {more} more" if more > 0 else ""))
    return RobotsFile(tuple(builder.groups), tuple(builder.ungrouped), tuple(notes), builder.lenient)


def select_groups(groups: Sequence[Group], agent: str) -> tuple[tuple[Group, ...], str]:
    """The groups that apply to `agent` (RFC 9309 §2.2.1): every group naming its product token,
    else every `*` group, else none; and a label for evidence (the token, `*`, or '')."""
    token = product_token(agent)
    if token and token != GLOBAL_AGENT:
        mine = tuple(group for group in groups if token in group.agents)
        if mine:
            return mine, agent.strip()
    fallback = tuple(group for group in groups if GLOBAL_AGENT in group.agents)
    return fallback, GLOBAL_AGENT if fallback else ""
