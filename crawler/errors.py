"""The command line's error contract: `UsageError` (bad user input) and the parser that raises it.

Every subcommand raises `UsageError` for input that is the user's to fix; `consentry.crawler.cli.main` prints it
as one line on stderr and exits 2 (docs/cli.md, "Exit codes"). Imports nothing heavy, so every command module can
use it without a cycle through the cli.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["Parser", "UsageError"]


class UsageError(Exception):
    """Bad user input: reported as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are `UsageError`s (no usage dump, no `SystemExit`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)
