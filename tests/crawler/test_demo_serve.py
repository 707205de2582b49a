"""`consentry demo --serve` and README's examples run against it, through the real console script.

`--serve` keeps the demo sites up on `--port N`…N+3 (or free ports) until SIGINT/SIGTERM, exit 0, printing the
URLs and commands to paste; a busy port is one line, exit 2. Every ```console block in README.md is run: each
`$ ` line against a `demo --serve` on free ports (README's `--port` and the ports after it rewritten), its
exit code must be 0 and its headings and table rows (the lines indented at most two spaces) must be README's.
The newcomer path (README's `.venv/bin/consentry …` commands: demo, check, audit --report) runs as written.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from consentry.crawler.demo.site import ORIGINS
from tests.crawler._helpers import ROOT

CONSENTRY = Path(sys.executable).with_name("consentry")
README = (ROOT / "README.md").read_text(encoding="utf-8")
_SERVE = re.compile(r"consentry demo --serve --port (\d+)")
_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Served:
    """A running `consentry demo --serve`: the process and what it printed before serving."""

    process: subprocess.Popen[str]
    banner: list[str]

    @property
    def origins(self) -> dict[str, str]:
        """Origin name -> `http://127.0.0.1:PORT`, as printed."""
        found = (re.match(r"  (\w+)\s+(http://127\.0\.0\.1:\d+)/  ", line) for line in self.banner)
        return {m[1]: m[2] for m in found if m}


def _free_ports(count: int) -> int:
    """A port P with P…P+count-1 free on 127.0.0.1 (bound and released here)."""
    for _ in range(50):
        with ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            base = first.getsockname()[1]
            if base + count > 65535:
                continue
            try:
                for offset in range(1, count):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return base
    raise AssertionError("no run of free loopback ports")


def _read_banner(process: subprocess.Popen[str], deadline: float = 60) -> list[str]:
    """stdout lines up to the last command to paste (three after the "Try" line), read unbuffered."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = b""
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    end = time.monotonic() + deadline
    while not re.search(rb"^Try.*\n(  .*\n){3}", data, re.MULTILINE):
        assert selector.select(timeout=max(0.0, end - time.monotonic())), f"no banner: {data!r}"
        chunk = os.read(fd, 65536)
        assert chunk, f"demo --serve ended: {data!r}"
        data += chunk
    return data.decode().splitlines()


@contextmanager
def serving(*args: str) -> Iterator[Served]:
    """`consentry demo --serve ARGS`, stopped with SIGINT afterwards (its exit code is checked by the tests)."""
    process = subprocess.Popen([str(CONSENTRY), "demo", "--serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        yield Served(process, _read_banner(process))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()


def _consentry(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONSENTRY), *argv], capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_prints_the_sites_and_commands_and_stops_cleanly(stop: signal.Signals, tmp_path: Path) -> None:
    base = _free_ports(len(ORIGINS))
    with serving("--port", str(base)) as served:
        assert served.origins == {name: f"http://127.0.0.1:{base + i}" for i, name in enumerate(ORIGINS)}
        pasted = [line.strip() for line in served.banner if line.startswith("  consentry check ")]
        assert pasted
        for command in pasted:  # ready to paste: they run against the sites served
            done = _consentry(*shlex.split(command)[1:], cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert "VERDICTS" in done.stdout
        served.process.send_signal(stop)
        assert served.process.wait(timeout=30) == 0
        assert served.process.stderr is not None
        err = served.process.stderr.read()
    assert err.strip() == "consentry demo: stopped serving"
    assert list(tmp_path.iterdir()) == []  # nothing was crawled or written


def test_serve_without_port_uses_free_ports() -> None:
    with serving() as served:
        ports = [int(origin.rsplit(":", 1)[1]) for origin in served.origins.values()]
        assert len(set(ports)) == len(ORIGINS)
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=10):
            pass
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=30) == 0


def test_a_busy_port_is_one_line_exit_2(tmp_path: Path) -> None:
    base = _free_ports(len(ORIGINS))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 2))
        busy.listen()
        done = _consentry("demo", "--serve", "--port", str(base), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"consentry: error: --port {base}: cannot listen on 127.0.0.1 ports "
                           f"{base}..{base + 3}: Address already in use\n")


# --- README's examples -------------------------------------------------------------------------------------


def _examples() -> list[tuple[str, str]]:
    """(command, expected output) of every `$ ` line of README's ```console blocks."""
    found = []
    for block in _CONSOLE.findall(README):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output))
    return found


def _readme_port() -> int:
    ports = {int(p) for p in _SERVE.findall(README)}
    assert len(ports) == 1, ports  # one demo --serve port throughout README
    return ports.pop()


def _rewrite(text: str, shift: int, readme_port: int) -> str:
    """README's demo ports moved by `shift` (the test serves on free ports)."""
    ports = range(readme_port, readme_port + len(ORIGINS))
    return re.sub(r"127\.0\.0\.1:(\d+)",
                  lambda m: f"127.0.0.1:{int(m[1]) + shift if int(m[1]) in ports else m[1]}", text)


def _shape(output: str) -> list[str]:
    """The headings and table rows of `check`'s output (indent ≤ 2), whitespace normalised; evidence and
    warning text, indented deeper and wrapped, is left out."""
    return [" ".join(line.split()) for line in output.splitlines()
            if line.strip() and len(line) - len(line.lstrip()) <= 2]


def test_readme_has_runnable_examples() -> None:
    examples = _examples()
    assert any(command.startswith("consentry check ") for command, _ in examples)
    port = _readme_port()
    for command, _ in examples:  # every URL a README example uses is one of the sites demo --serve starts
        for used in map(int, re.findall(r"127\.0\.0\.1:(\d+)", command)):
            assert port <= used < port + len(ORIGINS), command


@pytest.fixture(scope="module")
def demo_sites() -> Iterator[int]:
    """A `demo --serve` on free ports; yields the shift from README's ports."""
    base = _free_ports(len(ORIGINS))
    with serving("--port", str(base)) as served:
        assert served.origins
        yield base - _readme_port()
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=30) == 0


@pytest.mark.parametrize(("command", "output"), _examples(), ids=[c for c, _ in _examples()])
def test_readme_example_runs_as_shown(command: str, output: str, demo_sites: int, tmp_path: Path) -> None:
    readme_port = _readme_port()
    argv = shlex.split(_rewrite(command, demo_sites, readme_port), comments=True)
    assert argv[0] in {"consentry", ".venv/bin/consentry"}
    done = _consentry(*argv[1:], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    expected = _shape(_rewrite(output, demo_sites, readme_port))
    assert expected
    assert _shape(done.stdout) == expected


def _newcomer_commands() -> list[str]:
    """README's `.venv/bin/consentry …` commands in its ```sh blocks, in order (`demo --serve` left out: the
    fixture serves the sites)."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL):
        for part in re.split(r"&&|\n", block):
            command = part.strip()
            if command.startswith(".venv/bin/consentry ") and "--serve" not in command:
                commands.append(command)
    return commands


def test_readme_newcomer_path_runs_as_written(demo_sites: int, tmp_path: Path) -> None:
    commands = _newcomer_commands()
    assert [c.split()[1] for c in commands] == ["demo", "check", "audit"]
    for command in commands:  # in one directory, in README's order: the audit reads the demo's crawl
        argv = shlex.split(_rewrite(command, demo_sites, _readme_port()), comments=True)
        done = _consentry(*argv[1:], cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert "Traceback" not in done.stderr
    assert (tmp_path / "consentry-demo" / "crawl.warc.gz").stat().st_size > 0
    assert "<html" in (tmp_path / "audit.html").read_text(encoding="utf-8").lower()
