"""A trained model -> an ``.onnx`` file that carries its provenance and is proven equal to Keras.

The pipeline, top to bottom in :func:`export`:

1. :func:`load_source` reads a run directory (``model.keras`` + ``run.json``)
   or a ``.keras`` file (its spec recovered with :mod:`cnnspec.from_keras`).
2. tf2onnx converts a ``tf.function`` of the model in inference mode with a
   dynamic batch dimension (``from_function``: ``from_keras`` fails on Keras 3
   Sequential models).  Input ``image``: NHWC float32, raw 0-255 pixels.
3. ``metadata_props`` get the complete canonical spec (``I:`` and ``O:``
   filled in, so it stands alone), class names, input shape, layout and
   range, head activation and the cnnspec version.
4. ``onnx.checker`` (full check), then a parity check: Keras and ONNX Runtime
   run the same batch (real images from the run's data folder when it is
   there, else seeded random 0-255 images); the largest absolute difference
   must be at most ``tolerance`` unless the caller opts out.
5. The file is written atomically: a failed export leaves no file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.predict import (
    META_CLASS_NAMES,
    META_HEAD,
    META_INPUT_SHAPE,
    META_LAYOUT,
    META_RANGE,
    META_SPEC,
    META_VERSION,
    PredictError,
    find_images,
    load_images,
)

if TYPE_CHECKING:
    import keras
    import numpy as np

DEFAULT_OPSET = 17
#: tf2onnx 1.17 writes opsets 13 to 18; ONNX Runtime runs them all.
OPSETS = range(13, 19)
DEFAULT_TOLERANCE = 1e-5
SAMPLE_SIZE = 16


class ExportError(PredictError):
    """An export that cannot be done or did not pass its checks; a one-line message for users."""


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


@dataclass
class ExportReport:
    path: Path
    opset: int
    seconds: float  # conversion, checks and parity, without loading the model
    max_abs_diff: float | None
    tolerance: float
    sample: str  # where the parity images came from
    sample_size: int
    classes_agree: int
    metadata: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def parity_ok(self) -> bool:
        return self.max_abs_diff is not None and self.max_abs_diff <= self.tolerance


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
    model = _load_keras(p)
    from cnnspec.from_keras import NotExpressible, convert

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
        input_shape=_input_shape(model),
        head_activation=_head_activation(spec),
        notes=[*conv.notes, "no run.json beside the model: class names are the class indices"],
    )


def _load_run(run_dir: Path, model_path: Path | None = None) -> Source:
    meta_path = run_dir / "run.json"
    model_path = model_path or run_dir / "model.keras"
    if not meta_path.is_file():
        raise ExportError(f"{run_dir} is not a cnnspec run directory (no run.json)")
    if not model_path.is_file():
        raise ExportError(f"{run_dir} has no model.keras (was the run stopped before its first epoch?)")
    try:
        run = json.loads(meta_path.read_text(encoding="utf-8"))
        spec_text = run.get("canonical") or run["spec"]
        class_names = [str(n) for n in run["class_names"]]
        shape = tuple(int(v) for v in run["input_shape"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ExportError(f"{meta_path}: not a cnnspec run.json ({type(exc).__name__}: {exc})") from None
    model = _load_keras(model_path)
    canonical = _complete(spec_text, model)
    data = run.get("data") or {}
    data_path = Path(data["path"]) if isinstance(data, dict) and data.get("path") else None
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
        run_status=run.get("status") if isinstance(run.get("status"), str) else None,
    )
    if source.input_shape != _input_shape(model):
        raise ExportError(f"{meta_path} says input {list(shape)} but the model takes {list(_input_shape(model))}")
    return source


def _load_keras(path: Path) -> keras.Model:
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # zip, h5, json and deserialization errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"cannot load {path}: not a readable Keras model ({first})") from None


def _input_shape(model: keras.Model) -> tuple[int, int, int]:
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or any(d is None for d in shape):
        raise ExportError(f"the model's input is {shape}; cnnspec models take HxWxC images")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def _complete(spec_text: str, model: keras.Model) -> str:
    """The canonical spec with ``I:`` and ``O:`` written, checked against the model's parameter count."""
    from cnnspec import check, parse
    from cnnspec.errors import SpecError
    from cnnspec.formatter import format_spec
    from cnnspec.ir import Head, InputShape, Span

    try:
        spec = parse(spec_text)
    except SpecError as exc:
        raise ExportError(f"the run's spec does not parse: {exc.diagnostics[0].message}") from None
    h, w, c = _input_shape(model)
    update: dict[str, Any] = {}
    if spec.input is None:
        update["input"] = InputShape(span=Span(line=1, column=1), text=f"{h}x{w}x{c}", height=h, width=w, channels=c)
    if spec.head is None:
        units = int(model.outputs[0].shape[-1])
        update["head"] = Head(span=Span(line=1, column=1), text=str(units), classes=units)
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


def _erfc_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx has no ``Erfc``, which Keras' exact GELU uses: erfc(x) = 1 - erf(x)."""
    import numpy as np
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    node.type = "Erf"
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
    ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[one.output[0], node.output[0]])


def to_onnx(model: keras.Model, opset: int = DEFAULT_OPSET) -> Any:
    """Convert ``model`` (inference mode, dynamic batch) to an ``onnx.ModelProto``; input ``image``."""
    import logging

    import tensorflow as tf
    import tf2onnx

    tf2onnx.logging.set_level(logging.ERROR)
    if opset not in OPSETS:
        raise ExportError(f"opset {opset} is not supported: tf2onnx writes opsets {OPSETS[0]} to {OPSETS[-1]}")
    shape = (None, *_input_shape(model))

    @tf.function
    def serve(image: Any) -> Any:
        return model(image, training=False)

    signature = (tf.TensorSpec(shape, tf.float32, name="image"),)
    try:
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=signature, opset=opset, custom_op_handlers={"Erfc": (_erfc_handler, [])}
        )
    except Exception as exc:
        raise ExportError(f"tf2onnx could not convert the model: {type(exc).__name__}: {exc}") from None
    return proto


def _rename_output(proto: Any, new: str) -> None:
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
    proto.graph.output[0].name = new


def _output_name(head_activation: str) -> str:
    return {"softmax": "probabilities", "sigmoid": "probabilities", "linear": "logits"}.get(head_activation, "scores")


def metadata(source: Source) -> dict[str, str]:
    from cnnspec import __version__

    h, w, c = source.input_shape
    return {
        META_SPEC: source.canonical,
        META_CLASS_NAMES: json.dumps(source.class_names, ensure_ascii=False),
        META_INPUT_SHAPE: json.dumps([h, w, c]),
        META_LAYOUT: "NHWC",
        META_RANGE: "0-255",  # raw pixels: the model rescales by 1/255 itself
        META_HEAD: source.head_activation,
        META_VERSION: __version__,
    }


# --- parity -----------------------------------------------------------------


def sample_batch(source: Source, size: int = SAMPLE_SIZE, seed: int = 0) -> tuple[np.ndarray, str]:
    """Real images from the run's data folder when there are any, else seeded random 0-255 images."""
    import numpy as np

    if source.data_path is not None:
        files = find_images(source.data_path, size)
        if files:
            try:
                images = load_images(list(files), source.input_shape)
                return np.stack([i.pixels for i in images]).astype(
                    np.float32
                ), f"{len(files)} images of {source.data_path}"
            except PredictError:
                pass  # unreadable data: fall back to random pixels, said in the report
    rng = np.random.default_rng(seed)
    batch = rng.integers(0, 256, size=(size, *source.input_shape)).astype(np.float32)
    return batch, f"{size} random 0-255 images (seed {seed})"


def parity(model: keras.Model, proto_bytes: bytes, batch: np.ndarray) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Largest absolute difference between Keras and ONNX Runtime on ``batch``, and how many top classes agree."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(proto_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    want = np.asarray(model(batch, training=False))
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    if want.shape[1] == 1:
        agree = int(np.sum((want[:, 0] > _threshold(model)) == (got[:, 0] > _threshold(model))))
    else:
        agree = int(np.sum(want.argmax(axis=1) == got.argmax(axis=1)))
    return diff, agree, want, got


def _threshold(model: keras.Model) -> float:
    import keras

    act = keras.activations.serialize(model.layers[-1].activation)
    return 0.5 if act == "sigmoid" else 0.0


# --- the whole export -------------------------------------------------------


def export(
    source: str | Path | Source,
    output: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    strict: bool = True,
    sample_size: int = SAMPLE_SIZE,
) -> ExportReport:
    """Export a run directory or ``.keras`` model to ``output`` (ONNX), checked and proven equal to Keras.

    Raises :class:`ExportError` (and writes nothing) when the model cannot be
    loaded or converted, fails ``onnx.checker``, or - with ``strict`` - differs
    from Keras by more than ``tolerance`` on the sample batch.
    """
    import onnx

    from cnnspec.atomic import write_bytes

    src = source if isinstance(source, Source) else load_source(source)
    start = time.perf_counter()
    proto = to_onnx(src.model, opset)
    _rename_output(proto, _output_name(src.head_activation))
    meta = metadata(src)
    onnx.helper.set_model_props(proto, meta)
    proto.doc_string = f"cnnspec model {src.canonical} - input image: NHWC float32 raw 0-255 pixels"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # ValidationError and shape-inference errors
        raise ExportError(f"the converted model fails onnx.checker: {exc}") from None
    batch, sample = sample_batch(src, sample_size)
    diff, agree, _, _ = parity(src.model, proto.SerializeToString(), batch)
    seconds = time.perf_counter() - start
    report = ExportReport(
        path=Path(output),
        opset=opset,
        seconds=seconds,
        max_abs_diff=diff,
        tolerance=tolerance,
        sample=sample,
        sample_size=len(batch),
        classes_agree=agree,
        metadata=meta,
        notes=list(src.notes),
    )
    if src.run_dir is not None:
        from cnnspec.evaluate import unfinished_note

        note = unfinished_note({"status": src.run_status}, src.run_dir, "exporting")
        if note:
            report.notes.insert(0, note)
    if not report.parity_ok:
        msg = f"ONNX and Keras differ by up to {diff:.3g} on {sample} (tolerance {tolerance:g})"
        if strict:
            raise ExportError(msg, hint="--allow-mismatch writes the file anyway, --tolerance raises the bound")
        report.notes.append(msg + "; written anyway (--allow-mismatch)")
    write_bytes(output, proto.SerializeToString())
    return report


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ``.onnx`` file, read with ``onnx`` only (no weights are run)."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ExportError(f"no such file: {p}")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        raise ExportError(f"cannot read {p}: not an ONNX file ({type(exc).__name__})") from None
    return {prop.key: prop.value for prop in proto.metadata_props}


__all__ = ["ExportError", "ExportReport", "Source", "export", "load_source", "read_metadata", "to_onnx"]
