"""TensorFlow's start-up lines stay out of every command's standard error; real errors do not.

TensorFlow 2.21 prints four lines (oneDNN, CPU instructions, absl's notice twice) straight from
C++ while it is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says; ``cnnspec.cli.quiet`` imports it
with those lines filtered out.  These tests run the commands as real processes, because the lines
go to file descriptor 2, which an in-process runner never sees.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.cli.quiet import filter_noise

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "data" / "digits"

#: What TensorFlow 2.21 (tensorflow-cpu, x86-64) printed on import, verbatim.
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796166014.241635   31034 port.cc:153] oneDNN custom operations are on. You may see slightly \
different numerical results due to floating-point round-off errors from different computation orders. To turn \
them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796166014.316061   31034 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use \
available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX_VNNI FMA, in other operations, \
rebuild TensorFlow with the appropriate compiler flags.
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796166018.903196   31034 port.cc:153] oneDNN custom operations are on. You may see slightly \
different numerical results due to floating-point round-off errors from different computation orders. To turn \
them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
"""
REAL = "E0000 00:00:1796166018.903196   31034 cuda_dnn.cc:42] could not load the library\n"
#: Any line of the start-up kind, for the end-to-end checks.
NOISE = re.compile(r"absl::InitializeLog|oneDNN|cpu_feature_guard|^[IW]\d{4} \d\d:\d\d:", re.M)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update({"PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", **extra})
    return env


def _cnnspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnspec", *args], cwd=cwd, capture_output=True, text=True, env=_env(), timeout=600
    )


def test_tensorflow_startup_lines_are_noise_and_errors_are_not():
    assert filter_noise(STARTUP) == ""
    assert filter_noise(STARTUP + REAL) == REAL
    warning = "/x/y.py:3: UserWarning: something a user should see\n"
    assert filter_noise(warning + STARTUP) == warning
    assert filter_noise(STARTUP, min_level=0) == STARTUP  # TF_CPP_MIN_LOG_LEVEL=0: everything, as TF documents


def test_tensorflow_startup_lines_filtered_from_file_descriptor_2(tmp_path):
    """A stand-in ``tensorflow`` that writes, as C++ does, to descriptor 2: noise goes, the rest stays."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        f"import os, warnings\nos.write(2, {(STARTUP + REAL).encode()!r})\nwarnings.warn('kept')\n", encoding="utf-8"
    )
    code = "import sys\nfrom cnnspec.cli import quiet\nquiet.quiet_tensorflow()\nimport tensorflow\n"
    code += "print('after', file=sys.stderr)"
    env = _env(PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not NOISE.search(proc.stderr), proc.stderr
    assert REAL in proc.stderr and "UserWarning: kept" in proc.stderr
    assert proc.stderr.endswith("after\n")  # descriptor 2 is back where it was


def test_tensorflow_startup_lines_absent_from_from_keras(tmp_path):
    """from-keras of a file that is no model: TensorFlow is imported, and the error comes alone."""
    (tmp_path / "junk.keras").write_bytes(os.urandom(300))
    proc = _cnnspec("from-keras", "junk.keras", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr


def test_tensorflow_is_not_imported_where_it_is_not_needed(tmp_path):
    """Quieting TensorFlow imports nothing: predict of a file that is no model never loads it."""
    (tmp_path / "model.pt").write_bytes(b"\x80\x02")
    code = (
        "import sys\nfrom cnnspec.cli import main\nsys.argv = ['cnnspec', 'predict', 'model.pt', 'x.png']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('tensorflow' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stdout + proc.stderr


@pytest.mark.slow
def test_tensorflow_startup_lines_absent_from_every_heavy_command(tmp_path):
    """train (-q and --json), evaluate, export, from-keras and predict of a run: no start-up line."""
    spec = "I: 8x8x1 C: 8 D: 8R O: 10"
    runs = {
        "train -q": ["train", "--spec", spec, "--data", str(DIGITS), "--epochs", "1", "--out", "q", "-q"],
        "train --json": ["train", "--spec", spec, "--data", str(DIGITS), "--epochs", "1", "--out", "j", "--json"],
        "evaluate": ["evaluate", "q", "--data", str(DIGITS), "--no-save", "--json"],
        "export": ["export", "q", "-o", "q.onnx"],
        "from-keras": ["from-keras", "q"],
        "predict RUN": ["predict", "q", str(DIGITS / "3")],
    }
    for what, args in runs.items():
        proc = _cnnspec(*args, cwd=tmp_path)
        assert proc.returncode == 0, (what, proc.stderr)
        assert not NOISE.search(proc.stderr), (what, proc.stderr)
        if what == "train --json":
            assert all(json.loads(line) for line in proc.stdout.splitlines())
