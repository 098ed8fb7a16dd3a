"""One writer per run directory: a second writer is refused naming the holder; a stale
lock (its process gone on this host) is taken over with a note."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sweep_support import make_images
from typer.testing import CliRunner

from cnnspec.cli import app
from cnnspec.run import lock
from cnnspec.run.rundir import LOCK_JSON, RUN_FILES
from cnnspec.run.sweep import _clear

HOLD = """
import sys, time
from cnnspec.run.lock import acquire
acquire(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder():
    """A real second process that holds a folder's lock until the test ends."""
    procs = []

    def hold(folder: Path) -> subprocess.Popen:
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=env)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        return p

    yield hold
    for p in procs:
        p.kill()
        p.wait()


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def fake_run(folder: Path) -> Path:
    """A run directory whose run.json lacks what a resume needs: a resume that gets the lock fails after it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text('{"status": "interrupted"}\n')
    return folder


def test_the_lock_file_is_a_run_file():
    assert LOCK_JSON in RUN_FILES


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    folder = tmp_path / "run"
    p = holder(folder)
    record = json.loads((folder / LOCK_JSON).read_text())
    assert record["pid"] == p.pid and record["host"] == socket.gethostname() and record["started"]
    assert "-c" in record["command"]
    with pytest.raises(lock.RunLockedError) as info:
        lock.acquire(folder)
    assert f"pid {p.pid} on host {socket.gethostname()}" in info.value.message
    assert info.value.exit_code == 1 and (folder / LOCK_JSON).exists()


def test_train_and_resume_are_refused_while_another_process_writes(tmp_path, holder):
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    out = tmp_path / "run"
    p = holder(out)
    r = CliRunner().invoke(app, ["train", "--spec", "D: 6R", "--data", str(data), "--out", str(out), "-q"])
    assert r.exit_code == 1, r.output
    assert "being written by another process" in r.stderr and f"pid {p.pid}" in r.stderr
    assert "Traceback" not in r.output and sorted(x.name for x in out.iterdir()) == [LOCK_JSON]

    run = fake_run(tmp_path / "old")
    q = holder(run)
    r = CliRunner().invoke(app, ["train", "--resume", str(run), "-q"])
    assert r.exit_code == 1, r.output
    assert f"pid {q.pid} on host" in r.stderr and "'spec'" not in r.stderr  # refused before it read the run
    assert json.loads((run / LOCK_JSON).read_text())["pid"] == q.pid


def test_a_sweep_is_refused_on_a_folder_another_sweep_writes(tmp_path, holder):
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    out = tmp_path / "sw"
    p = holder(out)
    r = CliRunner().invoke(app, ["sweep", "--spec", "flat = D: 6R", "--data", str(data), "--out", str(out), "-q"])
    assert r.exit_code == 1, r.output
    assert f"pid {p.pid}" in r.stderr and not (out / "sweep.json").exists()


def test_a_sweep_neither_clears_nor_trains_a_run_another_process_writes(tmp_path, holder):
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    out = tmp_path / "sw"
    p = holder(out / "flat")
    (out / "flat" / "history.csv").write_text("epoch\n")  # a run's own file: cleared were it not locked
    args = ["sweep", "--spec", "flat = D: 6R", "--data", str(data), "--out", str(out), "-q"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    assert "failed flat: RunLockedError" in r.stderr and f"pid {p.pid}" in r.stderr
    assert (out / "flat" / "history.csv").exists()
    assert not (out / LOCK_JSON).exists()  # the sweep's own lock released at the end


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = {"pid": dead_pid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "command": "x"}
    (folder / LOCK_JSON).write_text(json.dumps(stale))
    notes: list[str] = []
    with lock.locked(folder, notes.append):
        mine = json.loads((folder / LOCK_JSON).read_text())
        assert mine["pid"] == os.getpid() and lock.held(folder)
    assert len(notes) == 1 and f"pid {stale['pid']}" in notes[0] and "took over" in notes[0]
    assert not (folder / LOCK_JSON).exists() and not lock.held(folder)
    assert [x.name for x in folder.iterdir()] == []  # nothing moved aside is left


def test_resume_takes_over_a_stale_lock_and_releases_it(tmp_path):
    run = fake_run(tmp_path / "old")
    pid = dead_pid()
    stale = {"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "command": "x"}
    (run / LOCK_JSON).write_text(json.dumps(stale))
    r = CliRunner().invoke(app, ["train", "--resume", str(run)], env={"COLUMNS": "300"})
    assert r.exit_code == 1, r.output  # the lock was taken; then the run itself is damaged
    assert f"took over the lock of a process that is gone (pid {pid}" in r.output
    assert "has no 'spec'" in r.stderr
    assert not (run / LOCK_JSON).exists()


def test_a_lock_of_another_host_is_never_judged_stale(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    other = {"pid": dead_pid(), "host": "elsewhere.invalid", "started": "2026-01-01T00:00:00+00:00", "command": "x"}
    (folder / LOCK_JSON).write_text(json.dumps(other))
    with pytest.raises(lock.RunLockedError) as info:
        lock.acquire(folder)
    assert "host elsewhere.invalid" in info.value.message and str(folder / LOCK_JSON) in (info.value.hint or "")


def test_the_lock_is_re_entrant_in_one_process_and_released_on_an_error(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(RuntimeError):
        with lock.locked(folder):
            with lock.locked(folder):
                assert (folder / LOCK_JSON).exists()
            assert (folder / LOCK_JSON).exists()  # the outer holder still holds it
            raise RuntimeError("boom")
    assert not (folder / LOCK_JSON).exists()


def test_a_stale_lock_left_in_a_run_folder_does_not_stop_a_sweep_clearing_it(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text("{}")
    (folder / LOCK_JSON).write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    with lock.locked(folder):
        _clear(folder)
        assert [x.name for x in folder.iterdir()] == [LOCK_JSON]
    assert list(folder.iterdir()) == []


def test_a_retried_task_whose_first_attempt_still_lives_is_refused_naming_it(tmp_path, holder):
    """What a Ray worker runs (run_job) respects the lock: the run fails naming the live holder,
    and nothing of the holder's folder is cleared."""
    from cnnspec.run.options import TrainOptions
    from cnnspec.run.progress import Reporter
    from cnnspec.run.sweep_worker import RunJob, run_job

    run_dir = tmp_path / "sweep" / "flat"
    p = holder(run_dir)
    (run_dir / "history.csv").write_text("epoch\n1\n")
    data = make_images(tmp_path / "data", classes=2, per_class=2)
    job = RunJob("flat", "flat = D: 6R\n", "<test>", "D: 6R", str(run_dir), str(data), TrainOptions().model_dump())
    outcome = run_job(job, Reporter())
    assert outcome["status"] == "failed" and "RunLockedError" in outcome["errors"]
    assert f"pid {p.pid} on host {socket.gethostname()}" in outcome["errors"]
    assert (run_dir / "history.csv").exists() and json.loads((run_dir / LOCK_JSON).read_text())["pid"] == p.pid
