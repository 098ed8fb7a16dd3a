"""--jit and --mixed-precision, meant for GPUs, also train on this CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "data" / "digits"


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--jit", "--mixed-precision"])
def test_gpu_flags_train_on_cpu(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "run"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnspec",
            "train",
            str(ROOT / "examples" / "digits.cnn"),
            "--data",
            str(DIGITS),
            "--out",
            str(out),
            "--epochs",
            "2",
            "-q",
            flag,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    # Ten classes: chance is 0.1; two epochs of this spec reach far more.
    assert metrics["best"]["val_accuracy"] > 0.5
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["jit" if flag == "--jit" else "mixed_precision"] is True
