"""``--help``, ``-h``, ``--version`` and top-level usage errors, on whichever typer is installed.

The newest typer printed Python annotations in every help (``--json <bool>``, ``<str>``,
``<list[str]>``, ``Usage: … {run_dir}``) and 0.12 sorted the commands; these tests hold the help
that users read.  CI runs this file twice: with the newest typer that ``typer>=0.12`` resolves to,
and in a venv with the oldest one pyproject.toml allows (``.ci/run``).  Nothing here needs
TensorFlow.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from golden_util import run_cli

import cnnspec
from cnnspec.cli.commands import COMMANDS

NAMES = [c.name for c in COMMANDS]
#: What the newest typer wrote instead of click's metavars: ``<bool>``, ``<str>``, ``<int range>``,
#: ``<list[str]>``, and a required argument in braces.
ANNOTATION = re.compile(r"<(bool|str|int|float|list\[[^\]]*\])[^>]*>|\{[a-z_]+\}")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_shows_no_python_annotations_and_no_value_after_a_flag(name, flag):
    run = run_cli([name, flag])
    assert run.exit_code == 0, run.output
    assert f"Usage: cnnspec {name} [OPTIONS]" in run.output
    assert not ANNOTATION.search(run.output), ANNOTATION.search(run.output)
    # A flag's row holds nothing between the flag and its help (no BOOLEAN, no <bool>).
    for row in run.output.splitlines():
        if re.search(r"--help\s", row):
            assert re.search(r"--help\s+(-h\s+)?Show this message", row), row
        assert "BOOLEAN" not in row, row


def test_help_names_the_values_as_click_does():
    shown = run_cli(["check", "--help"]).output
    assert re.search(r"--spec\s+-s\s+TEXT\s", shown), shown
    assert re.search(r"--classes\s+-c\s+INTEGER", shown), shown
    assert re.search(r"--json\s+Print JSON", shown), shown  # a flag: no value


def test_usage_line_writes_arguments_in_capitals_not_braces():
    def usage(name: str) -> str:
        return next(line.strip() for line in run_cli([name, "--help"]).output.splitlines() if "Usage:" in line)

    assert usage("evaluate") == "Usage: cnnspec evaluate [OPTIONS] RUN_DIR"
    assert usage("predict") == "Usage: cnnspec predict [OPTIONS] MODEL IMAGES..."
    assert usage("check") == "Usage: cnnspec check [OPTIONS] [PATH]"
    missing = run_cli(["evaluate"])
    assert missing.exit_code == 2 and "Missing argument 'RUN_DIR'" in missing.output, missing.output


def test_top_level_help_lists_the_commands_in_their_order():
    shown = run_cli(["-h"]).output
    assert run_cli(["--help"]).output == shown
    listed = [m.group(1) for m in re.finditer(r"^│ ([a-z][a-z-]*)\s{2,}", shown, re.M)]
    assert listed == NAMES, listed


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_version_option_prints_the_version(args):
    run = run_cli(args)
    assert run.exit_code == 0 and run.output.strip() == cnnspec.__version__


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chek", "x.cnn"], "No such command 'chek'"),
        (["--verbose"], "No such option: --verbose"),
        (["-x", "check"], "No such option: -x"),
        (["check", "--nope"], "No such option: --nope"),
    ],
)
def test_top_level_usage_errors_are_clear(args, message):
    """A mistyped command or option: exit 2, the usage line, and a message that says what is wrong
    (one try once saw an empty "Error" panel: the message must be there, in a real process too)."""
    run = run_cli(args)
    assert run.exit_code == 2 and message in run.output, run.output
    assert "Traceback" not in run.output
    proc = subprocess.run(
        [sys.executable, "-m", "cnnspec", *args], capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": ""}
    )
    assert proc.returncode == 2 and message in proc.stderr and "Usage:" in proc.stderr, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
