"""A trained model -> an ``.onnx`` file that carries its provenance and is proven equal to Keras.

The pipeline, top to bottom in :func:`export`:

1. :func:`load_source` reads a run directory (``model.keras`` + ``run.json``)
   or a ``.keras`` file (its spec recovered with :mod:`cnnspec.model.from_keras`).
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

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.deploy.loading import ExportError, Source, input_shape, load_source
from cnnspec.deploy.metadata import metadata, read_metadata
from cnnspec.deploy.predict import PredictError, find_images, load_images

if TYPE_CHECKING:
    import keras
    import numpy as np

DEFAULT_OPSET = 17
#: tf2onnx 1.17 writes opsets 13 to 18; ONNX Runtime runs them all.
OPSETS = range(13, 19)
DEFAULT_TOLERANCE = 1e-5
SAMPLE_SIZE = 16


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


def _erfc_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx has no ``Erfc``, which Keras' exact GELU uses: erfc(x) = 1 - erf(x)."""
    import numpy as np
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    node.type = "Erf"
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
    ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[one.output[0], node.output[0]])


def to_onnx(model: keras.Model, opset: int = DEFAULT_OPSET) -> Any:
    """Convert ``model`` (inference mode, dynamic batch) to an ``onnx.ModelProto``; input ``image``.

    On the TensorFlow backend through tf2onnx (a ``.keras`` file of any backend's run loads
    there: ``cnnspec export`` picks it when TensorFlow is installed); on another backend
    through Keras' own ``model.export(format="onnx")`` (:func:`_keras_onnx`)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return _keras_onnx(model, opset)
    import logging

    import tensorflow as tf
    import tf2onnx

    tf2onnx.logging.set_level(logging.ERROR)
    if opset not in OPSETS:
        raise ExportError(f"opset {opset} is not supported: tf2onnx writes opsets {OPSETS[0]} to {OPSETS[-1]}")
    shape = (None, *input_shape(model))

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


def _keras_onnx(model: keras.Model, opset: int) -> Any:
    """Keras' own ONNX export, for a backend other than TensorFlow (PyTorch: ``torch.onnx``;
    JAX: the ``jax2onnx`` package).  Its input is renamed ``image``, as tf2onnx's is."""
    import tempfile

    import keras
    import onnx

    backend = keras.backend.backend()
    spec = keras.InputSpec(shape=(None, *input_shape(model)), dtype="float32")
    with tempfile.TemporaryDirectory(prefix="cnnspec-onnx-") as tmp:
        path = Path(tmp, "model.onnx")
        try:
            model.export(str(path), format="onnx", verbose=False, input_signature=[spec], opset_version=opset)
        except ImportError as exc:
            raise ExportError(
                f"Keras cannot export to ONNX on the {backend} backend here: {exc}",
                "install TensorFlow (pip install 'cnnspec[train]'): cnnspec export then converts the model "
                "with tf2onnx, whatever backend trained it",
            ) from None
        except Exception as exc:
            raise ExportError(f"Keras' ONNX export failed on {backend}: {type(exc).__name__}: {exc}") from None
        proto = onnx.load(str(path))
    old = proto.graph.input[0].name
    for node in proto.graph.node:
        node.input[:] = ["image" if i == old else i for i in node.input]
    proto.graph.input[0].name = "image"
    return proto


def _rename_output(proto: Any, new: str) -> None:
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
    proto.graph.output[0].name = new


def _output_name(head_activation: str) -> str:
    return {"softmax": "probabilities", "sigmoid": "probabilities", "linear": "logits"}.get(head_activation, "scores")


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
        from cnnspec.run.evaluate import unfinished_note

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


__all__ = ["ExportError", "ExportReport", "Source", "export", "load_source", "read_metadata", "to_onnx"]
