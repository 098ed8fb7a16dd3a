"""A small real image folder for sweep and report tests (PNG files on disk)."""

from __future__ import annotations

from pathlib import Path


def make_images(root: Path, classes: int = 3, per_class: int = 20, size: int = 8, seed: int = 0) -> Path:
    """``root/class<i>/<n>.png``: grayscale noise with a bright band whose place tells the class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (size, size), dtype=np.uint8)
            band = (c * size) // classes
            img[:, band : band + max(1, size // classes)] += 150
            Image.fromarray(img, "L").save(folder / f"{i:03d}.png")
    return root
