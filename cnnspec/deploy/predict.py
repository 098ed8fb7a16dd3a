"""Top-k prediction from an exported ``.onnx`` file or a run directory.

With an ``.onnx`` model this module needs only ONNX Runtime, numpy and
Pillow: it never imports TensorFlow or Keras, so a deployment can skip them
(a test runs it with both made unimportable).  A run directory (or a
``.keras`` file) is predicted with Keras, imported on first use.

Images are decoded with Pillow, converted to the model's channels (grayscale
to RGB or the reverse, with a note) and resized to its input with bilinear
interpolation (with a note).  Pixels stay raw 0-255 floats: every cnnspec
model, Keras or ONNX, rescales them itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cnnspec.deploy.metadata import META_CLASS_NAMES, META_HEAD, META_INPUT_SHAPE, META_SPEC, ModelInfo
from cnnspec.errors import UserError
from cnnspec.run.images import PREDICT_EXTENSIONS, convert

if TYPE_CHECKING:
    import numpy as np

#: What prediction reads from a folder (more than training: see :mod:`cnnspec.run.images`).
IMAGE_SUFFIXES = PREDICT_EXTENSIONS


class PredictError(UserError):
    """A model or image that cannot be used; ``str()`` is a one-line message for users."""

    code = "predict"


@dataclass
class Image:
    """One decoded image as the model wants it (HxWxC float32, 0-255) and what was done to it."""

    path: str
    pixels: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ranked:
    index: int
    name: str
    probability: float


@dataclass
class Prediction:
    image: str
    top: list[Ranked]
    notes: list[str]
    #: "probability" for softmax / sigmoid outputs (or logits turned into them), else "score".
    kind: str = "probability"

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "predictions": [{"class": r.name, "index": r.index, self.kind: r.probability} for r in self.top],
            "notes": self.notes,
        }


class Model(Protocol):
    info: ModelInfo

    def run(self, batch: np.ndarray) -> np.ndarray: ...


# --- images -----------------------------------------------------------------


def load_image(path: str | Path, shape: tuple[int, int, int]) -> Image:
    """Decode ``path`` into an ``HxWxC`` float32 array of 0-255 values for a model of input ``shape``.

    Raises :class:`PredictError` when the file is missing or cannot be decoded.
    """
    import numpy as np
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise PredictError(
            f"{path} is a folder, not an image file", hint="give image files, or expand the folder with image_files()"
        )
    if not path.is_file():
        raise PredictError(f"no such image: {path}")
    if shape[2] not in (1, 3, 4):
        raise PredictError(f"the model takes {shape[2]} channels; images have 1, 3 or 4")
    try:
        with PILImage.open(path) as img:
            img.load()
            # The conversion training and evaluation read their images with (cnnspec.run.images).
            uint8, notes = convert(img, shape)
            pixels = uint8.astype(np.float32)
    except UnidentifiedImageError:
        raise PredictError(f"cannot decode {path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise PredictError(f"cannot decode {path}: {exc}") from None
    return Image(str(path), pixels, notes)


def load_each(paths: Sequence[str | Path], shape: tuple[int, int, int]) -> tuple[list[Image], list[PredictError]]:
    """Decode every image that can be; the others' errors, one per file, in order."""
    images: list[Image] = []
    errors: list[PredictError] = []
    for p in paths:
        try:
            images.append(load_image(p, shape))
        except PredictError as exc:
            errors.append(exc)
    return images, errors


def load_images(paths: Sequence[str | Path], shape: tuple[int, int, int]) -> list[Image]:
    """Decode every image; raise one :class:`PredictError` naming every file that failed."""
    images: list[Image] = []
    errors: list[str] = []
    for p in paths:
        try:
            images.append(load_image(p, shape))
        except PredictError as exc:
            errors.append(str(exc))
    if errors:
        raise PredictError("; ".join(errors))
    return images


def image_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The image files to predict, and notes: folders in ``paths`` are replaced by the images in them.

    A folder contributes its image files and those of its subfolders, one
    level down (the ``folder/<class>/*.png`` layout of a data set), in sorted
    order; other files are skipped with a note, and so are deeper folders.
    Files named directly are kept as given, whatever their suffix, so that a
    wrong file is reported rather than skipped.  A folder without any image
    raises :class:`PredictError`.
    """
    files: list[Path] = []
    notes: list[str] = []
    for given in paths:
        root = Path(given)
        if not root.is_dir():
            files.append(root)
            continue
        found: list[Path] = []
        skipped: list[str] = []
        deeper: list[str] = []
        for entry in sorted(root.iterdir()):
            children = sorted(entry.iterdir()) if entry.is_dir() and not entry.name.startswith(".") else [entry]
            for child in children:
                name = child.relative_to(root).as_posix()
                if child.name.startswith("."):  # .DS_Store, .git and the like go unmentioned
                    continue
                if child.is_dir():
                    deeper.append(name)
                elif child.suffix.lower() in IMAGE_SUFFIXES:
                    found.append(child)
                else:
                    skipped.append(name)
        if not found:
            raise PredictError(
                f"no images in the folder {root} (nor in its subfolders)",
                hint=f"image files end in {' '.join(IMAGE_SUFFIXES)}",
            )
        if skipped:
            notes.append(f"{root}: skipped {_some(skipped)}: not image files")
        if deeper:
            notes.append(f"{root}: skipped {_some(deeper)}: only one level of subfolders is read")
        files.extend(found)
    return files, notes


def _some(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def find_images(folder: str | Path, limit: int) -> list[Path]:
    """Up to ``limit`` image files under ``folder``, spread evenly over its sorted file list."""
    root = Path(folder)
    if not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(files) <= limit:
        return files
    step = len(files) / limit
    return [files[int(i * step)] for i in range(limit)]


# --- models -----------------------------------------------------------------


class OnnxModel:
    """An exported ``.onnx`` file run by ONNX Runtime; its metadata says how."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise PredictError(f"no such model: {path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail / InvalidProtobuf / InvalidGraph types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PredictError(f"cannot load {path}: not a valid ONNX model ({first})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.info = info_from_metadata(meta, str(path))
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


def info_from_metadata(meta: dict[str, str], source: str) -> ModelInfo:
    """Read the cnnspec keys of an ONNX file's ``metadata_props``."""
    if META_SPEC not in meta or META_INPUT_SHAPE not in meta:
        raise PredictError(
            f"{source} has no cnnspec metadata: it was not exported by cnnspec",
            hint="export the model with `cnnspec export RUN_DIR -o model.onnx`",
        )
    try:
        shape = tuple(int(v) for v in json.loads(meta[META_INPUT_SHAPE]))
        names = [str(n) for n in json.loads(meta.get(META_CLASS_NAMES, "[]"))]
    except (ValueError, TypeError):
        raise PredictError(f"{source}: malformed cnnspec metadata") from None
    if len(shape) != 3:
        raise PredictError(f"{source}: malformed cnnspec metadata (input shape {list(shape)})")
    return ModelInfo(
        input_shape=(shape[0], shape[1], shape[2]),
        class_names=names,
        head_activation=meta.get(META_HEAD, "softmax"),
        spec=meta[META_SPEC],
        source=source,
    )


class KerasModel:
    """A run directory's ``model.keras`` (or a ``.keras`` file) run by Keras."""

    def __init__(self, path: str | Path) -> None:
        from cnnspec.deploy.loading import load_source  # imports Keras

        src = load_source(path)
        self.model = src.model
        self.info = ModelInfo(
            input_shape=src.input_shape,
            class_names=src.class_names,
            head_activation=src.head_activation,
            spec=src.canonical,
            source=str(path),
        )

    def run(self, batch: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(self.model(batch, training=False))


def open_model(path: str | Path, threads: int | None = None) -> Model:
    """An ``.onnx`` file (ONNX Runtime, no TensorFlow) or a run directory / ``.keras`` file (Keras)."""
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        return OnnxModel(p, threads)
    if p.is_dir() or p.suffix.lower() == ".keras":
        return KerasModel(p)
    if not p.exists():
        raise PredictError(f"no such model: {p}")
    raise PredictError(f"{p}: expected an .onnx file, a .keras file or a run directory")


# --- scores -----------------------------------------------------------------


def probabilities(raw: np.ndarray, info: ModelInfo) -> tuple[np.ndarray, list[str], str]:
    """Per-class values (batch x classes), their class names, and their kind.

    A one-unit head (sigmoid, or logits) is a binary classifier: its two
    classes get ``1 - p`` and ``p``.  Logit heads (``O: 10I``) go through a
    softmax; other head activations are ranked by their raw score.
    """
    import numpy as np

    raw = np.asarray(raw, dtype=np.float64)
    act = info.head_activation
    kind = "probability"
    if raw.shape[1] == 1:
        p = raw[:, 0] if act == "sigmoid" else 1.0 / (1.0 + np.exp(-raw[:, 0]))
        if act not in ("sigmoid", "linear"):
            p, kind = raw[:, 0], "score"
        values = np.stack([1.0 - p, p], axis=1)
    elif act == "softmax":
        values = raw
    elif act == "linear":
        z = raw - raw.max(axis=1, keepdims=True)
        values = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    else:
        values, kind = raw, "score"
    n = values.shape[1]
    names = list(info.class_names) if len(info.class_names) == n else [str(i) for i in range(n)]
    return values, names, kind


def predict_each(
    model: Model | str | Path, images: Sequence[str | Path], top_k: int = 3
) -> tuple[list[Prediction], list[PredictError]]:
    """Like :func:`predict`, but a file that cannot be decoded costs only its own result: the
    predictions of the others, and one error per bad file."""
    m = open_model(model) if isinstance(model, (str, Path)) else model
    decoded, errors = load_each(list(images), m.info.input_shape)
    return _rank(m, decoded, top_k), errors


def _rank(m: Model, decoded: list[Image], top_k: int) -> list[Prediction]:
    import numpy as np

    if not decoded:
        return []
    batch = np.stack([img.pixels for img in decoded]).astype(np.float32)
    values, names, kind = probabilities(m.run(batch), m.info)
    out = []
    k = max(1, min(top_k, values.shape[1]))
    for img, row in zip(decoded, values, strict=True):
        order = np.argsort(-row, kind="stable")[:k]
        out.append(Prediction(img.path, [Ranked(int(i), names[i], float(row[i])) for i in order], img.notes, kind))
    return out


def predict(model: Model | str | Path, images: Sequence[str | Path], top_k: int = 3) -> list[Prediction]:
    """Top-``top_k`` classes of each image.

    >>> predict("model.onnx", ["cat.png"])[0].top[0].name  # doctest: +SKIP
    'cat'
    """
    m = open_model(model) if isinstance(model, (str, Path)) else model
    return _rank(m, load_images(list(images), m.info.input_shape), top_k)


__all__ = [
    "Image",
    "ModelInfo",
    "OnnxModel",
    "PredictError",
    "Prediction",
    "find_images",
    "image_files",
    "load_each",
    "load_image",
    "load_images",
    "open_model",
    "predict",
    "predict_each",
    "probabilities",
]
