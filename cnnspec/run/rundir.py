"""The run directory: what ``cnnspec train`` writes, and reading it back.

Every file of a run is named here; the run's records are written atomically (see
``docs/architecture.md``) and read back with one error for a damaged or foreign folder.
Keras, TensorFlow and numpy are imported inside :func:`versions` only.
"""

from __future__ import annotations

import csv
import io
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnnspec import atomic
from cnnspec.errors import SpecError
from cnnspec.notation.ir import Spec
from cnnspec.notation.parser import parse
from cnnspec.run.options import TrainOptions
from cnnspec.run.progress import COLUMNS

RUNS_DIR = "runs"


class TrainError(ValueError):
    """A run that cannot start or resume (an occupied ``--out``, a broken run
    directory): a message and a hint, shown without a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message + (f"\nhint: {hint}" if hint else ""))


def new_run_dir(out: str | Path | None, name: str | None) -> Path:
    """The run directory to create: ``out`` (absent or empty), or a fresh default."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            hint = f"resume it with --resume {out}" if (path / "run.json").exists() else "choose another --out"
            raise TrainError(f"{out} already exists and is not an empty folder", hint)
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(RUNS_DIR) / f"{name or 'run'}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
    }


def write_json(path: Path, obj: Any) -> None:
    atomic.write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def history_csv(rows: list[dict[str, float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row["epoch"]] + [("" if row.get(c) is None else f"{row[c]:.8g}") for c in COLUMNS[1:]])
    return buf.getvalue()


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows of a ``history.csv`` (epoch as int, the rest as float)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            {k: (int(v) if k == "epoch" else (float(v) if v != "" else None)) for k, v in row.items()}  # type: ignore[misc]
            for row in csv.DictReader(fh)
        ]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


RESTART = "start the run again with cnnspec train (a new --out)"


def damaged(path: Path, what: str, hint: str = RESTART) -> TrainError:
    return TrainError(f"{path} is damaged: {what}", hint)


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except OSError as exc:
        raise TrainError(f"cannot read {path}: {exc.strerror}") from None


def read_run(run_dir: Path, epochs: int | None) -> tuple[dict[str, Any], Spec, TrainOptions]:
    """``run.json``, its spec and its settings (``epochs`` replaced when given)."""
    path = run_dir / "run.json"
    if not path.is_file():
        raise TrainError(f"{run_dir} is not a run directory (no run.json)", "give a folder that cnnspec train wrote")
    run = read_json_file(path)
    if not isinstance(run, dict):
        raise damaged(path, f"not what cnnspec train writes (a JSON {type(run).__name__}, not an object)")
    try:
        settings = dict(run["settings"])
        spec = parse(run["spec"], str(run_dir / "spec.cnn"))
        if epochs is not None:
            settings["epochs"] = epochs
        settings["out"] = str(run_dir)
        options = TrainOptions(**settings)
        for key in ("path", "fingerprint"):
            str(run["data"][key])
        list(run["class_names"])
    except SpecError as exc:
        raise damaged(path, f"its spec does not parse ({exc.diagnostics[0].message})") from None
    except KeyError as exc:
        raise damaged(path, f"it has no {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise damaged(path, f"not what cnnspec train writes ({first})") from None
    return run, spec, options


def read_state(run_dir: Path) -> int:
    """The epochs completed, from ``state.json`` (0 when absent: no epoch was)."""
    path = run_dir / "state.json"
    if not path.exists():
        return 0
    state = read_json_file(path)
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise damaged(path, f'expected {{"epoch": N}} with N the epochs completed, found {json.dumps(state)[:80]}')
    return epoch


def read_run_history(run_dir: Path, done: int) -> list[dict[str, float]]:
    path = run_dir / "history.csv"
    try:
        history = read_history(path)[:done]
    except (ValueError, KeyError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise damaged(path, f"not the table cnnspec train writes ({type(exc).__name__}: {exc})") from None
    if len(history) < done or [int(r["epoch"]) for r in history] != list(range(1, done + 1)):
        raise damaged(path, f"it does not hold epochs 1 to {done}, which state.json says were completed")
    return history


#: What every ``.keras`` file holds (a zip archive).
KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


def checkpoint_to_resume(run_dir: Path, done: int) -> Path | None:
    """``checkpoint.keras`` when epochs were completed, checked before anything
    is written: present, and a whole Keras archive."""
    if done == 0:
        return None
    import zipfile

    path = run_dir / "checkpoint.keras"
    if not path.is_file():
        raise TrainError(f"{path} is missing: state.json says {done} epochs were completed", RESTART)
    try:
        with zipfile.ZipFile(path) as archive:
            missing = KERAS_MEMBERS - set(archive.namelist())
            broken = archive.testzip()  # reads every member: a truncated or altered file fails here
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise damaged(path, f"not a readable Keras model ({exc})") from None
    if missing or broken:
        what = f"{', '.join(sorted(missing))} missing" if missing else f"{broken} corrupt"
        raise damaged(path, f"not a whole Keras model ({what})")
    return path
