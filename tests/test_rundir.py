"""The run directory's contract (cnnspec.run.rundir): typed records with a schema_version,
one reader and one writer, one error for a damaged or foreign folder, and run directories
of the first release (no schema_version) still read by every command.  No training here:
the folders are written by hand, in the format each release wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cnnspec.atomic import WriteError
from cnnspec.cli import app
from cnnspec.cli.common import run_or_exit
from cnnspec.deploy.loading import ExportError
from cnnspec.deploy.predict import PredictError
from cnnspec.display.terminal import user_error
from cnnspec.errors import SpecError, UserError, render_user_error
from cnnspec.report.table import NoUsableRunError, ReportError, load_run
from cnnspec.run.data import DataError
from cnnspec.run.evaluate import read_run as read_evaluable
from cnnspec.run.rundir import (
    RUN_FILES,
    SCHEMA_VERSION,
    Metrics,
    RunDirError,
    State,
    read_history,
    read_metrics,
    read_run,
    read_state,
    write_record,
)
from cnnspec.run.sweep import Entry, NoValidSpecError, plan_runs
from cnnspec.run.train import TrainError

HISTORY = (
    "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr\n"
    "1,0.69,0.5,0.68,0.55,1.2,0.001\n"
    "2,0.6,0.7,0.62,0.65,1.1,0.001\n"
)


def first_release_run(root: Path, status: str = "completed") -> Path:
    """A run directory as cnnspec 0.1 wrote it: no schema_version in any file."""
    run = root / "old"
    run.mkdir(parents=True)
    record = {
        "cnnspec_version": "0.1.0",
        "name": "old",
        "spec": "old = C: 4 D: 4R\n",
        "canonical": "C: 4 D: 4R",
        "input_shape": [8, 8, 1],
        "class_names": ["a", "b"],
        "settings": {
            "epochs": 2, "batch_size": 32, "lr": 0.001, "optimizer": "adam", "seed": 42, "val_split": 0.2,
            "val_dir": None, "patience": None, "mixed_precision": False, "jit": None, "distribute": None,
            "skip_bad": False, "out": str(run),
        },
        "versions": {"python": "3.11.9", "keras": "3.6.0", "tensorflow": "2.18.0", "numpy": "1.26.4"},
        "data": {"path": str(root / "data"), "files": 20, "fingerprint": "ab" * 32, "counts": {"a": 10, "b": 10},
                 "bad": []},
        "status": status,
        "created": "2026-01-01T00:00:00+00:00",
        "updated": "2026-01-01T00:01:00+00:00",
        "replicas": 1,
    }  # fmt: skip
    metrics = {
        "epochs_completed": 2,
        "best": {"val_accuracy": 0.65, "val_accuracy_epoch": 2, "train_accuracy": 0.7, "train_accuracy_epoch": 2,
                 "val_loss": 0.62, "val_loss_epoch": 2, "train_loss": 0.6, "train_loss_epoch": 2},
        "final": {"train_accuracy": 0.7, "val_accuracy": 0.65, "train_loss": 0.6, "val_loss": 0.62},
        "seconds_per_epoch": 1.15, "images_per_second": 14.0, "total_params": 110, "macs": 2000, "gflops": 0.0001,
    }  # fmt: skip
    (run / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    (run / "state.json").write_text(json.dumps({"epoch": 2}), encoding="utf-8")
    (run / "history.csv").write_text(HISTORY, encoding="utf-8")
    (run / "spec.cnn").write_text(record["spec"], encoding="utf-8")  # type: ignore[arg-type]
    (run / "model.keras").write_bytes(b"only its presence is read here")
    return run


def test_a_first_release_run_directory_reads_as_version_0(tmp_path: Path) -> None:
    run = first_release_run(tmp_path)
    record = read_run(run)
    assert record.schema_version == 0 and record.status == "completed" and record.class_names == ["a", "b"]
    assert record.data is not None and record.data.fingerprint == "ab" * 32
    assert record.options(run, epochs=5).epochs == 5 and record.options(run).optimizer == "adam"
    metrics = read_metrics(run)
    assert metrics is not None and metrics.schema_version == 0 and metrics.best.val_accuracy_epoch == 2
    assert read_state(run) == State(epoch=2)
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [1, 2]
    assert read_history(run)[1]["val_accuracy"] == 0.65  # a folder reads its history.csv
    # Every command's reading of it: evaluate, report, sweep.
    assert read_evaluable(run).input_shape == [8, 8, 1]
    row = load_run(run)
    assert (row.name, row.params, row.best_val_accuracy, row.best_val_epoch, row.epochs) == ("old", 110, 0.65, 2, 2)
    entry = Entry("old", None, "C: 4 D: 4R", "pending")
    plan_runs([entry], tmp_path)
    assert entry.status == "finished" and entry.metrics["best"]["val_accuracy"] == 0.65


def test_an_unfinished_first_release_run_is_resumed_by_a_sweep(tmp_path: Path) -> None:
    first_release_run(tmp_path, status="interrupted")
    same, other = Entry("old", None, "C: 4 D: 4R", "pending"), Entry("old", None, "C: 8 D: 4R", "pending")
    plan_runs([same], tmp_path)
    plan_runs([other], tmp_path)
    assert (same.status, other.status) == ("resume", "pending")  # another network starts again


def test_rewriting_a_record_adds_the_schema_version_and_keeps_unknown_keys(tmp_path: Path) -> None:
    run = first_release_run(tmp_path)
    doc = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**doc, "from_a_later_release": {"x": 1}}))
    record = read_run(run)
    record.status = "running"
    write_record(run / "run.json", record)
    written = json.loads((run / "run.json").read_text())
    assert next(iter(written)) == "schema_version" and written["schema_version"] == SCHEMA_VERSION == 1
    assert written["from_a_later_release"] == {"x": 1} and written["status"] == "running"
    assert {k: v for k, v in written.items() if k not in ("schema_version", "status")} == {
        k: v for k, v in doc.items() if k != "status"
    } | {"from_a_later_release": {"x": 1}}
    write_record(run / "state.json", State(epoch=3))
    assert json.loads((run / "state.json").read_text()) == {"schema_version": 1, "epoch": 3}
    write_record(run / "metrics.json", Metrics.model_validate({"epochs_completed": 0, "best": {}, "final": {}}))
    assert json.loads((run / "metrics.json").read_text()) == {
        "schema_version": 1, "epochs_completed": 0, "best": {}, "final": {},
    }  # fmt: skip


def test_a_record_from_a_newer_cnnspec_is_refused(tmp_path: Path) -> None:
    run = first_release_run(tmp_path)
    (run / "state.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "epoch": 2}))
    with pytest.raises(RunDirError, match="written by a newer cnnspec") as info:
        read_state(run)
    assert info.value.hint == "upgrade cnnspec"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("run.json", "{", "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ("run.json", "[1]", "holds a JSON list, not an object"),
        ("run.json", '{"class_names": "ab"}', 'class_names is "ab", not a list'),
        ("run.json", '{"input_shape": [8, "8", 1]}', 'input_shape.1 is "8", not a whole number'),
        ("run.json", '{"data": {"path": 3}}', "data.path is 3, not text"),
        ("metrics.json", '{"total_params": 1.5}', "total_params is 1.5, not a whole number"),
        ("metrics.json", '{"best": {"val_accuracy": true}}', "best.val_accuracy is true, not a number"),
        ("metrics.json", '{"best": []}', "best is [], not an object"),
        ("state.json", '{"epoch": -1}', 'expected {"epoch": N} with N the epochs completed, found {"epoch": -1}'),
        ("history.csv", "epoch,loss\n1,0.5,9\n", "line 2: more values than the 2 columns"),
        ("history.csv", "loss\n0.5\n", "no epoch column (columns: loss)"),
    ],
)
def test_a_damaged_or_foreign_file_is_one_error_naming_it(tmp_path: Path, name: str, content: str, reason: str):
    run = first_release_run(tmp_path)
    (run / name).write_text(content, encoding="utf-8")
    read = {"run.json": read_run, "metrics.json": read_metrics, "state.json": read_state, "history.csv": read_history}
    with pytest.raises(RunDirError) as info:
        read[name](run)
    err = info.value
    assert err.path == run / name and err.reason == reason
    assert err.message.startswith(f"{run / name} is damaged: ") and reason in err.message
    assert isinstance(err, UserError) and err.hint


def test_resume_needs_what_a_fresh_run_wrote(tmp_path: Path) -> None:
    from cnnspec.run.train import resume

    run = first_release_run(tmp_path, status="interrupted")
    doc = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**doc, "data": {"path": doc["data"]["path"]}}))
    with pytest.raises(RunDirError, match=r"it has no 'data\.fingerprint'"):
        resume(run, progress="quiet")


def test_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no such run directory"):
        read_run(tmp_path / "nowhere")
    with pytest.raises(RunDirError, match=r"is not a run directory \(no run.json\)") as info:
        read_run(tmp_path)
    assert info.value.hint == "give a folder that cnnspec train wrote"
    assert read_metrics(tmp_path) is None and read_state(tmp_path) == State(epoch=0) and read_history(tmp_path) == []


def test_every_file_a_run_can_hold_is_known() -> None:
    written_by_train = {"spec.cnn", "run.json", "class_names.json", "model.keras", "checkpoint.keras", "state.json",
                        "history.csv", "metrics.json", "curves.png"}  # fmt: skip
    # lock.json: the writer's lock (cnnspec.run.lock), while train, resume or sweep work in it
    assert RUN_FILES == written_by_train | {"model.onnx", "evaluation.json", "confusion.png", "lock.json"}


def test_the_cli_gives_a_damaged_run_one_error_line(tmp_path: Path) -> None:
    """The same folder, read by three commands: exit 1, the file named, no traceback."""
    run = first_release_run(tmp_path)
    (run / "run.json").write_text('{"class_names": "ab"}', encoding="utf-8")
    for args in (
        ["train", "--resume", str(run), "-q"],
        ["evaluate", str(run), "--data", str(tmp_path), "--no-save"],
        ["report", str(run), "-o", str(tmp_path / "r.md")],
    ):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 1, (args, r.output)
        assert f"{run / 'run.json'}" in r.output and 'class_names is "ab"' in r.output, (args, r.output)
        assert "Traceback" not in r.output and isinstance(r.exception, SystemExit), args


def test_every_user_facing_error_is_a_user_error() -> None:
    from cnnspec.model.from_keras import NotExpressible

    for cls in (TrainError, DataError, RunDirError, PredictError, ExportError, ReportError, NoUsableRunError,
                NoValidSpecError, NotExpressible):  # fmt: skip
        assert issubclass(cls, UserError), cls


def test_a_user_error_renders_as_plain_text_rich_text_and_json() -> None:
    err = RunDirError("a/state.json is damaged: [x]", "start again")
    assert render_user_error(err) == "error: a/state.json is damaged: [x]\n  hint: start again"
    assert user_error(err).plain == render_user_error(err)  # brackets stay text, not markup
    assert err.to_dict() == {"code": "run-dir", "message": "a/state.json is damaged: [x]", "hint": "start again"}
    assert render_user_error(UserError("no hint")) == "error: no hint"


def _exit_code(job) -> int:
    with pytest.raises(typer.Exit) as info:
        run_or_exit(job)
    return info.value.exit_code


def _raise(exc: BaseException):
    def job() -> None:
        raise exc

    return job


def test_run_or_exit_is_the_one_map_from_errors_to_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from cnnspec.notation.parser import parse

    assert run_or_exit(lambda: 7) == 7
    assert _exit_code(_raise(DataError("no such data folder: x", "give a folder"))) == 1
    err = capsys.readouterr().err
    assert "error: no such data folder: x" in err and "hint: give a folder" in err
    assert _exit_code(_raise(ReportError("x is not a run directory"))) == 2  # a path on the command line
    assert _exit_code(_raise(NoUsableRunError([]))) == 1
    assert _exit_code(_raise(WriteError("out/r.md", "Permission denied"))) == 2
    assert "cannot write out/r.md: Permission denied" in capsys.readouterr().err
    with pytest.raises(SpecError) as info:
        parse("C: 16q")
    assert _exit_code(_raise(info.value)) == 1
    assert "error[E201]" in capsys.readouterr().err


def test_the_records_as_written_are_the_golden_files(tmp_path: Path) -> None:
    """The written form of the contract: a first-release run read and written again (the
    version it gets, the key order, every field).  Changing a golden file here changes what
    every run directory holds: bump SCHEMA_VERSION unless the change only adds a field."""
    from golden_util import GOLDEN, compare

    run = first_release_run(tmp_path)
    for name, read in (("run.json", read_run), ("metrics.json", read_metrics), ("state.json", read_state)):
        record = read(run)
        assert record is not None
        write_record(run / name, record)
        text = (run / name).read_text(encoding="utf-8").replace(str(tmp_path), "TMP")
        compare(GOLDEN / "rundir" / name, text)
