"""The command line's help contract, through the real console script (docs/cli.md): bare `consentry` prints its
usage on stderr and exits 2; `-V` prints the version; every `COMMAND --help` (registry subcommands included)
exits 0 with a one-paragraph description, an "examples:" section of commands, the purposes and their tree for
the commands that take purposes, and every option's default shown; unknown commands and options are one line,
exit 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from consentry.crawler.cli import build_parser
from consentry.crawler.crawl.command import max_requests_of
from consentry.crawler.helptext import shows_default
from consentry.policies.version import VERSION
from consentry.policies.vocabulary import PURPOSES

CONSENTRY = Path(sys.executable).with_name("consentry")

#: Every command line whose --help is checked, and whether it takes purposes.
HELP_COMMANDS: dict[tuple[str, ...], bool] = {
    ("check",): True, ("crawl",): True, ("demo",): False, ("audit",): True, ("report",): False, ("recheck",): True,
    ("registry",): True, ("registry", "add"): True, ("registry", "list"): False, ("registry", "remove"): False,
    ("registry", "match"): False, ("registry", "export"): False, ("registry", "import"): False,
    ("queue",): False, ("queue", "push"): False, ("queue", "status"): False,
}


@dataclass(frozen=True)
class Case:
    """One invocation: its argv, exit code, the stream that must carry `expect`, and whether that stream is one
    line."""

    argv: tuple[str, ...]
    code: int
    stream: str
    expect: str
    one_line: bool = False


CASES = [
    Case((), 2, "stderr", "usage: consentry [-h] [-V] COMMAND ..."),
    Case(("-V",), 0, "stdout", f"consentry {VERSION}"),
    Case(("--version",), 0, "stdout", f"consentry {VERSION}"),
    Case(("--help",), 0, "stdout", "exit codes:"),
    Case(("bogus",), 2, "stderr", "invalid choice: 'bogus'", one_line=True),
    Case(("registry", "bogus", "--db", "x.db"), 2, "stderr", "invalid choice: 'bogus'", one_line=True),
    Case(("crawl", "--no-such-option", "http://127.0.0.1:9/"), 2, "stderr", "--no-such-option", one_line=True),
    Case(("check", "--purpose", "ai-train"), 2, "stderr", "the following arguments are required: URL", one_line=True),
    Case(("registry", "add", "x.jpg", "--db", "x.db", "--creator", "A", "--deny", "training"), 2, "stderr",
         "unknown purpose 'training'", one_line=True),
    Case(("demo", "--port", "8000"), 2, "stderr", "--port needs --serve", one_line=True),
    Case(("demo", "--serve", "--port", "65534"), 2, "stderr", "--port 65534", one_line=True),
    *(Case((*argv, "--help"), 0, "stdout", "examples:") for argv in HELP_COMMANDS),
]


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONSENTRY), *argv], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c.argv) or "(bare)")
def test_invocation(case: Case, tmp_path: Path) -> None:
    done = _run(*case.argv, cwd=tmp_path)
    text = getattr(done, case.stream)
    assert done.returncode == case.code, (done.stdout, done.stderr)
    assert case.expect in text
    assert "Traceback" not in done.stdout + done.stderr
    if case.one_line:
        assert text.count("\n") == 1, text
        assert text.startswith("consentry: error: ")
        assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # help and usage errors create nothing


def _help(argv: tuple[str, ...]) -> str:
    done = _run(*argv, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def _parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every subcommand's parser, by its argv (the in-process twin of what the console script builds)."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found[(*prefix, name)] = child
                    walk(child, (*prefix, name))

    walk(build_parser(), ())
    return found


def test_every_subcommand_is_covered() -> None:
    assert set(_parsers()) == set(HELP_COMMANDS)


@pytest.mark.parametrize("argv", list(HELP_COMMANDS), ids=" ".join)
def test_help_has_a_description_and_examples_of_itself(argv: tuple[str, ...]) -> None:
    text = _help(argv)
    blocks = text.split("\n\n")
    assert blocks[0].startswith(f"usage: consentry {' '.join(argv)} ")
    description = " ".join(blocks[1].split())
    assert not description.endswith(":")  # a paragraph, not the next section's heading
    assert len(description) > 60, description
    examples = next(block for block in blocks if block.startswith("examples:")).splitlines()[1:]
    commands = [line.strip() for line in examples if line.startswith("  consentry ")]
    assert commands, examples
    assert all(c.startswith(f"consentry {' '.join(argv)}") for c in commands[:1])
    assert "-v, --verbose" in text or argv in (("registry",), ("queue",))  # a group lists its subcommands instead


@pytest.mark.parametrize("argv", [a for a, purposes in HELP_COMMANDS.items() if purposes], ids=" ".join)
def test_help_lists_the_purposes_and_their_tree(argv: tuple[str, ...]) -> None:
    text = _help(argv)
    section = text[text.index("\npurposes"):].splitlines()[2:]
    tree = [line for line in section if line.startswith("  ")]
    assert [line.strip() for line in tree] == [p.value for p in PURPOSES]
    indent = {line.strip(): len(line) - len(line.lstrip()) for line in tree}
    assert indent["tdm"] < indent["ai-train"] < indent["genai-train"] == indent["ml-train"]
    assert indent["ai-train"] == indent["ai-input"] == indent["search"]


def _option_help(text: str, action: argparse.Action) -> str:
    """The help lines of one option in `--help` output, whitespace and hyphenation breaks joined."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"  (\S.*, )?{re.escape(action.option_strings[0])}\b",
                                                               line))
    chunk = [lines[start]]
    for line in lines[start + 1:]:
        if not line.strip() or re.match(r"  \S", line):
            break
        chunk.append(line)
    return re.sub(r"-\s+", "-", " ".join(" ".join(chunk).split()))


@pytest.mark.parametrize("argv", list(HELP_COMMANDS), ids=" ".join)
def test_no_option_hides_its_default(argv: tuple[str, ...]) -> None:
    text = _help(argv)
    parser = _parsers()[argv]
    shown = [a for a in parser._actions if shows_default(a)]
    for action in shown:
        assert f"(default: {action.default})" in _option_help(text, action), action.option_strings
    for action in parser._actions:  # options whose default is decided at run time say what it is
        if action.dest in {"purposes", "jobs", "agent", "deny", "allow", "port"}:
            assert "(default: " in _option_help(text, action), action.option_strings


def test_the_defaults_shown_are_the_real_ones() -> None:
    parsers = _parsers()
    crawl = parsers[("crawl",)].parse_args(["http://127.0.0.1:9/"])
    limit = max_requests_of(crawl, listed=False)
    assert (crawl.depth, limit, str(crawl.output)) == (3, 500, "consentry-crawl")
    assert max_requests_of(crawl, listed=True) == 0  # a URL list is fetched whole
    assert "(default: 500; with --urls: no limit)" in _option_help(_help(("crawl",)), next(
        a for a in parsers[("crawl",)]._actions if a.dest == "max_requests"))
    assert "0 means unlimited" in _option_help(_help(("crawl",)), next(
        a for a in parsers[("crawl",)]._actions if a.dest == "depth"))
    jobs = _option_help(_help(("audit",)), next(a for a in parsers[("audit",)]._actions if a.dest == "jobs"))
    assert "one per input file, at most the number of CPU cores" in jobs
