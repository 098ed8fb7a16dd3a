"""``cnnspec sweep --engine ray``: a real local Ray of 2 CPUs (and 2 logical GPUs), real
training on the example digits, a worker really killed, a driver really interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_support import digits_subset, history, make_images
from typer.testing import CliRunner

from cnnspec.cli import app

pytest.importorskip("ray")

# Three variants of examples/digits.cnn, smaller (a test trains them in seconds).
DIGITS_SPECS = "digits = I: 8x8x1 C: {4,8} 16 D: 16R d¼ O: 10\nflat = I: 8x8x1 D: 16R O: 10\n"
NAMES = ["digits-4", "digits-8", "flat"]
TOL = 1e-5
EPOCHS = 15  # of the interrupted sweep: long enough to be stopped in the middle


def close(a: list[dict[str, float]], b: list[dict[str, float]]) -> bool:
    return len(a) == len(b) and all(abs(x[k] - y[k]) <= TOL for x, y in zip(a, b, strict=True) for k in x)


@pytest.mark.slow
def test_ray_gives_the_local_histories_side_by_side_each_run_on_its_own_gpu_and_a_killed_worker_resumes(
    tmp_path, monkeypatch
):
    from cnnspec.run.options import TrainOptions
    from cnnspec.run.ray_engine import RayEngine
    from cnnspec.run.sweep import sweep
    from cnnspec.run.sweep_worker import KILL_AFTER_FIRST_EPOCH_ENV

    data = digits_subset(tmp_path / "digits")
    options = TrainOptions(epochs=2, batch_size=32)
    local = sweep(DIGITS_SPECS, data, options, tmp_path / "local", progress="quiet")
    assert [e.status for e in local.entries] == ["completed"] * 3

    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_AFTER_FIRST_EPOCH_ENV, f"digits-8={marker}")
    engine = RayEngine(num_cpus=2, num_gpus=2, cpus_per_run=1, gpus_per_run=1)
    ray_sweep = sweep(DIGITS_SPECS, data, options, tmp_path / "ray", progress="quiet", engine=engine)
    assert ray_sweep.status == "completed", [e.errors for e in ray_sweep.entries]

    for name in NAMES:
        assert close(history(tmp_path / "ray" / name), history(tmp_path / "local" / name)), name
    workers = {e.name: e.worker for e in ray_sweep.entries}
    assert all(w is not None for w in workers.values())
    # The killed worker's task was retried and resumed from its first epoch; the history above is whole.
    assert marker.exists() and workers["digits-8"]["resumed_from"] == 1
    assert int(marker.read_text()) != workers["digits-8"]["pid"]
    # Each run saw one logical GPU, the one Ray gave it, and two runs overlapped in time.
    for w in workers.values():
        assert len(w["gpus"]) == 1 and w["cuda_visible_devices"] == w["gpus"][0]
    spans = sorted((w["started"], w["ended"], w["gpus"][0]) for w in workers.values())
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1]]
    assert overlapping and all(a[2] != b[2] for a, b in overlapping)
    doc = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert doc["engine"]["name"] == "ray" and all(s["worker"]["gpus"] for s in doc["specs"])


def cnnspec(*args: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.Popen(
        [sys.executable, "-m", "cnnspec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.slow
def test_sigint_to_the_driver_leaves_the_runs_interrupted_and_a_rerun_completes_them(tmp_path):
    data = make_images(tmp_path / "data", classes=3, per_class=16)
    specs = tmp_path / "specs.cnn"
    specs.write_text("small = C: {4,8} D: 8R\nflat = D: 6R\n", encoding="utf-8")
    out = tmp_path / "sweep"
    args = ["sweep", str(specs), "--data", str(data), "--epochs", str(EPOCHS), "--batch-size", "8", "--out", str(out)]

    proc = cnnspec(*args, "--engine", "ray", "--cpus-per-run", "1", "--json")
    events, deadline = [], time.monotonic() + 240
    for line in proc.stdout:  # type: ignore[union-attr]
        events.append(json.loads(line))
        if len({e["name"] for e in events if e["event"] == "run_epoch"}) == 2:  # two runs train: Ctrl-C
            proc.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline
    rest, err = proc.communicate(timeout=180)
    events += [json.loads(x) for x in rest.splitlines() if x.strip()]
    assert proc.returncode == 128 + signal.SIGINT, err
    assert [e["name"] for e in events if e["event"] == "run_queued"] == ["small-4", "small-8", "flat"]
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["status"] == "interrupted"
    statuses = {s["name"]: s["status"] for s in doc["specs"]}
    interrupted = [n for n, s in statuses.items() if s == "interrupted"]
    assert len(interrupted) == 2 and set(statuses.values()) <= {"interrupted", "pending"}
    for name in interrupted:  # saved after its last completed epoch, and said so in run.json
        run = json.loads((out / name / "run.json").read_text())
        state = json.loads((out / name / "state.json").read_text())
        assert run["status"] == "interrupted" and 1 <= state["epoch"] < EPOCHS
        assert len(history(out / name)) == state["epoch"]
        assert not (out / name / "lock.json").exists()
    assert not (out / "lock.json").exists()

    # The same sweep again (here by the local engine: the run directories are the same) finishes them.
    again = CliRunner().invoke(app, [*args, "--json"])
    assert again.exit_code == 0, again.output
    resumed = [json.loads(x) for x in again.stdout.splitlines() if '"run_start"' in x]
    assert {e["name"] for e in resumed if e["resume"]} >= set(interrupted)
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["status"] == "completed" and {s["status"] for s in doc["specs"]} == {"completed"}
    for name in statuses:
        assert len(history(out / name)) == EPOCHS


@pytest.mark.parametrize(
    "out, message",
    [("rel/sweep", "is a relative path"), ("/tmp/sweep", "on this machine's own storage")],
)
def test_joining_a_cluster_refuses_an_output_folder_the_nodes_cannot_see(tmp_path, out, message):
    data = make_images(tmp_path / "data", classes=2, per_class=2)
    r = CliRunner().invoke(
        app, ["sweep", "--spec", "flat = D: 6R", "--data", str(data), "--out", out,
              "--engine", "ray", "--address", "ray://head:10001"],
    )  # fmt: skip
    assert r.exit_code == 2 and message in r.stderr and "--out" in r.stderr
    assert out.startswith("/") or not Path(out).exists()


def test_engine_options_are_checked_before_anything_runs(tmp_path):
    data = make_images(tmp_path / "data", classes=2, per_class=2)
    base = ["sweep", "--spec", "flat = D: 6R", "--data", str(data), "--out", str(tmp_path / "sw")]
    for extra, message in [
        (["--engine", "spark"], "choose local or ray"),
        (["--address", "ray://h:1"], "give --engine ray too"),
        (["--engine", "ray", "--cpus-per-run", "0"], "--cpus-per-run"),
        (["--halving", "--halving-factor", "1"], "--halving-factor"),
    ]:
        r = CliRunner().invoke(app, [*base, *extra])
        assert r.exit_code == 2 and message in r.stderr, (extra, r.stderr)
    assert not (tmp_path / "sw").exists()


def test_every_worker_grows_its_gpu_memory_and_uses_the_threads_of_its_cpus(monkeypatch):
    from cnnspec.run.ray_engine import RayEngine, _env

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    env = _env(RayEngine(cpus_per_run=1.5, gpus_per_run=0.25))
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "2" and env["KERAS_BACKEND"] == "jax"
