"""``--distribute mirrored``: MirroredStrategy over two logical CPU devices.

The CPU is split before TensorFlow starts (``CNNSPEC_CPU_DEVICES=2``), so the
run happens in a child process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_folders import make_folder


@pytest.mark.slow
def test_mirrored_training_on_two_logical_cpus(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", {"l": 50, "r": 50, "t": 50, "b": 50}, size=(16, 16))
    run = tmp_path / "run"
    env = {**os.environ, "CNNSPEC_CPU_DEVICES": "2"}
    cmd = [sys.executable, "-m", "cnnspec", "train", "--spec", "C: 8 D: 16R", "--data", str(data), "--out", str(run)]
    proc = subprocess.run(
        [*cmd, "--epochs", "3", "--batch-size", "16", "--distribute", "mirrored", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    notes = [e["message"] for e in events if e["event"] == "note"]
    assert notes and notes[0].startswith("mirrored: 2 replicas on ") and "CPU:1" in notes[0]

    info = json.loads((run / "run.json").read_text())
    assert info["replicas"] == 2 and info["settings"]["distribute"] == "mirrored"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3
    assert metrics["best"]["val_accuracy"] > 0.8  # chance is 0.25

    # --batch-size is the global batch: each replica takes half, and one
    # optimizer step is taken per global batch.
    import keras

    n_train = 200 - int(0.2 * 200)
    model = keras.saving.load_model(run / "checkpoint.keras")
    assert int(model.optimizer.iterations.numpy()) == 3 * math.ceil(n_train / 16)
