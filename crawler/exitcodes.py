"""The exit codes every `consentry` command returns (docs/cli.md, "Exit codes").

One table, so a script can rely on the same meaning whatever the command: 0 the work was done and found
nothing wrong (whatever the verdicts), 1 the work found a problem (an audit mismatch, an unverifiable record,
a URL `check` could not fetch or that answered non-2xx, a crawl stopped early), 2 bad usage or unusable input,
130 interrupted by the user (Ctrl-C, SIGINT).
"""

from __future__ import annotations

__all__ = ["FINDING", "INTERRUPTED", "OK", "USAGE"]

OK = 0
FINDING = 1
USAGE = 2
INTERRUPTED = 130
