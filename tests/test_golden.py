"""Golden files: canonical specs that round-trip, ``check`` reports, bad specs and their carets.

``tests/golden/identity.cnn``    one canonical spec per line: ``fmt`` leaves each unchanged
                                 (``identity_v2.cnn``: the same for notation version 2).
``tests/golden/check/X.cnn``     a valid spec (or file); ``X.txt`` its plain ``cnnspec check``
                                 report and ``X.json`` its ``--json`` output.  Each report is
                                 also held to an invariant: its params column sums to its total.
``tests/golden/errors/X.cnn``    an invalid spec; ``X.txt`` its exact error output (carets).

A first line ``# args: ...`` in a ``.cnn`` file adds command-line options.
Regenerate with ``CNNSPEC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from golden_util import GOLDEN, compare, report_totals, run_cli, table_params

import cnnspec


def _lines(name: str) -> list[str]:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


IDENTITY = _lines("identity.cnn")
IDENTITY_V2 = _lines("identity_v2.cnn")
CHECK = sorted((GOLDEN / "check").glob("*.cnn"))
ERRORS = sorted((GOLDEN / "errors").glob("*.cnn"))


def _args(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    return shlex.split(first.removeprefix("# args:")) if first.startswith("# args:") else []


# --------------------------------------------------------------------------
# Canonical specs


@pytest.mark.parametrize("line", IDENTITY + IDENTITY_V2)
def test_identity_library(line: str) -> None:
    spec = cnnspec.parse(line)
    assert cnnspec.format(spec) == line


def test_identity_v2_through_cli(tmp_path: Path) -> None:
    text = "".join(f"s{i} = {line}\n" for i, line in enumerate(IDENTITY_V2))
    (tmp_path / "identity.cnn").write_text(text, encoding="utf-8")
    run = run_cli(["fmt", "--check", "identity.cnn"], cwd=tmp_path)
    assert run.exit_code == 0, run.output


def test_identity_file_through_cli(tmp_path: Path) -> None:
    """Every line through ``cnnspec fmt`` at once, as the named specs of one file."""
    assert len(IDENTITY) >= 30
    text = "".join(f"s{i} = {line}\n" for i, line in enumerate(IDENTITY))
    (tmp_path / "identity.cnn").write_text(text, encoding="utf-8")
    run = run_cli(["fmt", "identity.cnn"], cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert run.output == text
    assert run_cli(["fmt", "--check", "identity.cnn"], cwd=tmp_path).exit_code == 0
    line = IDENTITY[-1]
    assert run_cli(["fmt", "--spec", line]).output == line + "\n"


# --------------------------------------------------------------------------
# check reports


@pytest.mark.parametrize("path", CHECK, ids=[p.stem for p in CHECK])
def test_check_report(path: Path) -> None:
    run = run_cli(["check", path.name, *_args(path)], cwd=path.parent)
    assert run.exit_code == 0, run.output
    compare(path.with_suffix(".txt"), run.output)
    # Invariant: each table's params column sums to its "Total params".
    tables, totals = table_params(run.output), report_totals(run.output)
    assert tables and len(tables) == len(totals)
    for column, total in zip(tables, totals, strict=True):
        assert sum(column) == total


@pytest.mark.parametrize("path", CHECK, ids=[p.stem for p in CHECK])
def test_check_json(path: Path) -> None:
    run = run_cli(["check", path.name, "--json", *_args(path)], cwd=path.parent)
    assert run.exit_code == 0, run.output
    compare(path.with_suffix(".json"), run.output)
    payload = json.loads(run.output)
    for obj in payload if isinstance(payload, list) else [payload]:
        assert sum(layer["params"] for layer in obj["layers"]) == obj["total_params"]
        assert obj["trainable_params"] + obj["non_trainable_params"] == obj["total_params"]
        assert sum(layer["macs"] for layer in obj["layers"]) == obj["macs"]


# --------------------------------------------------------------------------
# Bad specs


@pytest.mark.parametrize("path", ERRORS, ids=[p.stem for p in ERRORS])
def test_error_output(path: Path) -> None:
    run = run_cli(["check", path.name, *_args(path)], cwd=path.parent)
    assert run.exit_code == 1, run.output
    assert "Traceback" not in run.output
    compare(path.with_suffix(".txt"), run.output)
    # Every error shows where: file:line:col, and a caret line under its source line.
    assert f"{path.name}:" in run.output
    assert "^" in run.output or "E400" in run.output


#: The parse-time codes of NOTATION.md's "Errors of version 2" (E406 is the checker's).
V2_PARSE_CODES = {"E112", "E120", "E200", "E201", "E202", "E204", "E205", *(f"E14{i}" for i in range(7))}


def test_every_version_2_parse_error_has_a_golden_bad_spec() -> None:
    """Each code of the table "Errors of version 2" has a golden ``v2_*`` spec with its carets."""
    shown = "".join(p.with_suffix(".txt").read_text(encoding="utf-8") for p in ERRORS if p.stem.startswith("v2_"))
    assert {code for code in V2_PARSE_CODES if f"error[{code}]" in shown} == V2_PARSE_CODES


@pytest.mark.parametrize("path", ERRORS, ids=[p.stem for p in ERRORS])
def test_error_library_agrees(path: Path) -> None:
    """The library reports the same codes that the CLI prints."""
    from cnnspec.network.sources import check_source

    text = path.read_text(encoding="utf-8")
    codes = [d.code for r in check_source(text, path.name) for d in r.errors]
    assert codes
    out = run_cli(["check", path.name], cwd=path.parent).output
    for code in codes:
        assert f"error[{code}]" in out
