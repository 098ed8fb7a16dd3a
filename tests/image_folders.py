"""Small, real image folders for the data and training tests.

Each class draws a different bright pattern on noise, so a tiny network
learns it in a few epochs: class 0 a bright left half, class 1 a bright right
half, class 2 a bright top half, class 3 a bright bottom half.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pattern(label: int, size: tuple[int, int], channels: int, rng: np.random.Generator) -> np.ndarray:
    h, w = size
    img = rng.integers(0, 90, size=(h, w), dtype=np.uint8)
    half = [(slice(None), slice(0, w // 2)), (slice(None), slice(w // 2, None)),
            (slice(0, h // 2), slice(None)), (slice(h // 2, None), slice(None))][label % 4]  # fmt: skip
    img[half] += 150
    if channels == 1:
        return img
    return np.stack([img] * channels, axis=-1)


MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def make_folder(
    root: Path,
    counts: dict[str, int] | None = None,
    *,
    size: tuple[int, int] = (12, 12),
    channels: int = 1,
    seed: int = 0,
    ext: str = "png",
) -> Path:
    """Write ``root/<class>/<i>.<ext>``; ``counts`` maps class name -> images."""
    counts = counts if counts is not None else {"a": 20, "b": 20}
    rng = np.random.default_rng(seed)
    for label, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = pattern(label, size, channels, rng)
            if channels == 4:
                arr[..., 3] = 255
            Image.fromarray(arr, MODES[channels]).save(folder / f"{i:03d}.{ext}")
    return root
