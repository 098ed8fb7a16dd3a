"""Golden-file helpers: run the CLI plainly and compare (or rewrite) expected text.

Regenerate every golden file with ``CNNSPEC_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff before committing it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from cnnspec.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("CNNSPEC_UPDATE_GOLDEN") == "1"

#: Plain, uncoloured, fixed-width output, whatever the terminal running the tests.
PLAIN_ENV = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb", "FORCE_COLOR": None}


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    output: str  # stdout and stderr, interleaved as printed


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    """Run with ``path`` as working directory, so file names print relative."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_cli(args: Sequence[str], cwd: Path | None = None, stdin: str | None = None) -> CliRun:
    """Run ``cnnspec ARGS`` in-process (typer's CliRunner) with plain output."""
    with chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, list(args), input=stdin, env=PLAIN_ENV, catch_exceptions=False)
    return CliRun(result.exit_code, result.output)


def compare(path: Path, actual: str) -> None:
    """Assert ``actual`` equals the golden file at ``path``; rewrite it under UPDATE."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.is_file():
        raise AssertionError(f"{path} is missing: run CNNSPEC_UPDATE_GOLDEN=1 pytest {Path(__file__).parent.name}")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{path.name} (golden)",
                f"{path.name} (actual)",
            )
        )
        raise AssertionError(f"{path} differs (CNNSPEC_UPDATE_GOLDEN=1 regenerates it):\n{diff}")


def table_params(report: str) -> list[list[int]]:
    """The params column of every check table in a plain report, one list per table."""
    tables: list[list[int]] = []
    current: list[int] | None = None
    for line in report.splitlines():
        if line.startswith("┏"):
            current = []
            tables.append(current)
        elif line.startswith("│") and current is not None:
            cells = [c.strip() for c in line.split("│")]
            # ..., params, MACs, note, "": counted from the right, since a block column
            # (after #) draws its brackets with the same │
            if cells[-4]:  # empty on the continuation line of a wrapped note
                current.append(int(cells[-4].replace(",", "")))
        elif line.startswith("└"):
            current = None
    return tables


def report_totals(report: str) -> list[int]:
    """Every ``Total params: N`` of a plain report."""
    out = []
    for line in report.splitlines():
        if line.startswith("Total params: "):
            out.append(int(line.split()[2].replace(",", "")))
    return out
