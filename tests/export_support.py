"""Real trained models and real image folders for the export / predict / from-keras tests.

Each model is trained once per test session (``functools.cache``) with
``model.fit`` on a small generated image folder, and saved as a run
directory in the layout of ``docs/architecture.md`` (``model.keras``,
``run.json`` with the canonical spec, class names, input shape and the data
path), so the tests exercise what ``cnnspec train`` leaves behind.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(tempfile.mkdtemp(prefix="cnnspec-export-tests-"))
atexit.register(shutil.rmtree, ROOT, ignore_errors=True)

#: Every layer kind of the notation, over a few trained models.
SPECS = {
    # RGB, softmax over 3 classes: all six parametrised augmentations, BN on conv and dense,
    # GELU (exact) and swish, rectangular kernel, stride, valid padding, p, ap, gap, bare L2, dropouts.
    "rgb": "I: 24x24x3 A: hvflip rot.1 zoom.15 shift.1 contrast.1 bright.2 "
    "C: 8nG 8W d¼ 16k3x5s2vE p 16T ap 16S gap D: 16RnL2 d½ 8W O: 3",
    # grayscale, one sigmoid unit: flip, p3, gmp, L2=, tanh dense.
    "gray": "I: 24x24x1 A: flip C: 8L2=1e-3 8 p3 d.1 16k5 gmp D: 8T O: 1",
    # logits over 10 classes: vflip, ap3, plain convs, identity activations.
    "logits": "I: 18x18x3 A: vflip C: 8 ap3 d20% 8k5I 8s2 D: d⅓ 12R O: 10I",
    # the articles' row, no I: and no O:: implied pools, input and head from the data.
    "implied": "C: 16n 16n d¼ 32n 32n d¼ D: 16R",
}
SHAPES = {"rgb": (24, 24, 3), "gray": (24, 24, 1), "logits": (18, 18, 3), "implied": (20, 20, 3)}
CLASSES = {"rgb": 3, "gray": 2, "logits": 10, "implied": 4}


def make_images(folder: Path, classes: int, shape: tuple[int, int, int], per_class: int = 12, seed: int = 0) -> Path:
    """An image folder ``folder/<class>/*.png`` whose classes differ in stripes and colour."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w, c = shape
    for k in range(classes):
        d = folder / f"class_{k:02d}"
        d.mkdir(parents=True, exist_ok=True)
        yy, xx = np.mgrid[0:h, 0:w]
        stripes = ((yy * (k % 4 + 1) + xx * (k // 4)) // 3) % 2
        for i in range(per_class):
            img = rng.integers(0, 70, size=(h, w, c)).astype(np.float64)
            img += 150 * stripes[:, :, None]
            if c == 3:
                img[:, :, k % 3] += 40
            arr = np.clip(img, 0, 255).astype(np.uint8)
            Image.fromarray(arr[:, :, 0] if c == 1 else arr, mode="L" if c == 1 else "RGB").save(d / f"{i:03d}.png")
    return folder


def load_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image

    names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    xs, ys = [], []
    for label, name in enumerate(names):
        for f in sorted((folder / name).glob("*.png")):
            arr = np.asarray(Image.open(f), dtype=np.float32)
            xs.append(arr[:, :, None] if arr.ndim == 2 else arr)
            ys.append(label)
    return np.stack(xs), np.asarray(ys), names


def train_model(model, x: np.ndarray, y: np.ndarray, epochs: int = 2) -> None:
    import keras

    act = keras.activations.serialize(model.layers[-1].activation)
    units = model.outputs[0].shape[-1]
    if units == 1:
        loss = keras.losses.BinaryCrossentropy(from_logits=act != "sigmoid")
        y = y.astype(np.float32)[:, None]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=act != "softmax")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, shuffle=True)


@functools.cache
def trained_run(key: str) -> Path:
    """A run directory holding a briefly trained model of ``SPECS[key]`` and its image folder."""
    import keras

    import cnnspec

    keras.utils.set_random_seed(1)
    run = ROOT / f"run-{key}"
    data = make_images(ROOT / f"data-{key}", CLASSES[key], SHAPES[key], seed=len(key))
    x, y, names = load_folder(data)
    spec = cnnspec.parse(SPECS[key])
    model = cnnspec.build(spec, input_shape=SHAPES[key], classes=CLASSES[key] if spec.head is None else None, seed=1)
    train_model(model, x, y)
    run.mkdir(parents=True)
    model.save(run / "model.keras")
    (run / "spec.cnn").write_text(SPECS[key] + "\n", encoding="utf-8")
    (run / "class_names.json").write_text(json.dumps(names), encoding="utf-8")
    (run / "run.json").write_text(
        json.dumps(
            {
                "cnnspec_version": cnnspec.__version__,
                "name": key,
                "spec": SPECS[key],
                "canonical": cnnspec.format(spec),
                "input_shape": list(SHAPES[key]),
                "class_names": names,
                "data": {"path": str(data), "files": len(y)},
                "status": "completed",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return run


def data_images(key: str) -> list[Path]:
    trained_run(key)
    return sorted((ROOT / f"data-{key}").rglob("*.png"))
