"""A trained model and what cnnspec knows of it: a run directory or a ``.keras`` file, loaded.

Both export and prediction (its Keras path) load models through :func:`load_source`, so
neither imports the other.  Keras is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.errors import UserError

if TYPE_CHECKING:
    import keras


class ExportError(UserError):
    """A model that cannot be loaded or exported, or an export that did not pass its checks."""

    code = "export"


@dataclass
class Source:
    """A model to export or predict with, and what cnnspec knows about it."""

    model: keras.Model
    canonical: str  # complete: I: and O: always written
    class_names: list[str]
    input_shape: tuple[int, int, int]
    head_activation: str
    data_path: Path | None = None
    run_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: ``run.json``'s status (``completed``, ``running``, ...); ``None`` for a lone ``.keras`` file.
    run_status: str | None = None


# --- loading ----------------------------------------------------------------


def load_source(path: str | Path) -> Source:
    """A run directory, a ``.keras`` file inside one, or a lone ``.keras`` file of a cnnspec model."""
    p = Path(path)
    if p.is_dir():
        return _load_run(p)
    if not p.exists():
        raise ExportError(f"no such model: {p}")
    if p.suffix.lower() != ".keras":
        raise ExportError(f"{p}: expected a run directory or a .keras file")
    if (p.parent / "run.json").is_file():
        return _load_run(p.parent, p)
    model = load_keras(p)
    from cnnspec.model.from_keras import NotExpressible, convert

    try:
        conv = convert(model)
    except NotExpressible as exc:
        raise ExportError(f"{p} is not a cnnspec model: {exc}") from None
    spec = _complete(conv.spec, model)
    units = int(model.outputs[0].shape[-1])
    names = [str(i) for i in range(max(units, 2) if units == 1 else units)]
    return Source(
        model=model,
        canonical=spec,
        class_names=names,
        input_shape=input_shape(model),
        head_activation=_head_activation(spec),
        notes=[*conv.notes, "no run.json beside the model: class names are the class indices"],
    )


def _load_run(run_dir: Path, model_path: Path | None = None) -> Source:
    from cnnspec.run.rundir import MODEL_KERAS, RUN_JSON, RunDirError, read_run

    meta_path = run_dir / RUN_JSON
    model_path = model_path or run_dir / MODEL_KERAS
    if not meta_path.is_file():
        raise ExportError(f"{run_dir} is not a cnnspec run directory (no run.json)")
    if not model_path.is_file():
        raise ExportError(f"{run_dir} has no model.keras (was the run stopped before its first epoch?)")
    try:
        run = read_run(run_dir)
        run.require(run_dir, "class_names", "input_shape")
        spec_text = run.canonical or run.spec
        if spec_text is None:
            run.require(run_dir, "spec")
    except RunDirError as exc:  # worded for export, which reads runs as one source of models
        raise ExportError(f"{meta_path}: not a cnnspec run.json ({exc.reason})") from None
    assert spec_text is not None and run.class_names is not None and run.input_shape is not None
    class_names = [str(n) for n in run.class_names]
    shape = tuple(int(v) for v in run.input_shape)
    model = load_keras(model_path)
    canonical = _complete(spec_text, model)
    data_path = Path(run.data.path) if run.data is not None and run.data.path else None
    if data_path is not None and not data_path.is_absolute():
        data_path = (run_dir / data_path) if (run_dir / data_path).is_dir() else data_path
    source = Source(
        model=model,
        canonical=canonical,
        class_names=class_names,
        input_shape=(shape[0], shape[1], shape[2]),
        head_activation=_head_activation(canonical),
        data_path=data_path,
        run_dir=run_dir,
        run_status=run.status,
    )
    if source.input_shape != input_shape(model):
        raise ExportError(f"{meta_path} says input {list(shape)} but the model takes {list(input_shape(model))}")
    return source


def load_keras(path: Path) -> keras.Model:
    """The Keras model in ``path``, or :class:`ExportError` saying why it is none."""
    import zipfile

    import keras

    # Keras answers "File not found" for a file that exists but is no zip: say what is wrong.
    if Path(path).suffix.lower() == ".keras" and Path(path).is_file() and not zipfile.is_zipfile(path):
        raise ExportError(f"cannot load {path}: not a readable Keras model (not a zip archive, which a .keras file is)")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # zip, h5, json and deserialization errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"cannot load {path}: not a readable Keras model ({first})") from None


def input_shape(model: keras.Model) -> tuple[int, int, int]:
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or any(d is None for d in shape):
        raise ExportError(f"the model's input is {shape}; cnnspec models take HxWxC images")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def _complete(spec_text: str, model: keras.Model) -> str:
    """The canonical spec with ``I:`` and ``O:`` written, checked against the model's parameter count."""
    from cnnspec import check, parse
    from cnnspec.errors import SpecError
    from cnnspec.notation.formatter import format_spec
    from cnnspec.notation.ir import Head, InputShape, Span

    try:
        spec = parse(spec_text)
    except SpecError as exc:
        raise ExportError(f"the run's spec does not parse: {exc.diagnostics[0].message}") from None
    h, w, c = input_shape(model)
    update: dict[str, Any] = {}
    if spec.input is None:
        update["input"] = InputShape(
            span=Span.invented("the model"), text=f"{h}x{w}x{c}", height=h, width=w, channels=c
        )
    if spec.head is None:
        units = int(model.outputs[0].shape[-1])
        update["head"] = Head(span=Span.invented("the model"), text=str(units), classes=units)
    spec = spec.model_copy(update=update)
    checked = check(spec)
    if checked.errors:
        raise ExportError(f"the run's spec is invalid: {checked.errors[0].message}")
    if checked.total_params != model.count_params():
        raise ExportError(
            f"the spec has {checked.total_params} parameters but the model has {model.count_params()}: "
            "run.json does not describe this model"
        )
    return format_spec(spec)


def _head_activation(spec_text: str) -> str:
    from cnnspec import parse

    head = parse(spec_text).head
    assert head is not None
    return head.keras_activation


# --- conversion -------------------------------------------------------------
