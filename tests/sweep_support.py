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


DIGITS = Path(__file__).resolve().parent.parent / "examples" / "data" / "digits"


def digits_subset(root: Path, per_class: int = 30) -> Path:
    """The first ``per_class`` images of each class of the example digits, copied to ``root``
    (the same 8x8 grayscale PNGs: a sweep test trains on the examples' own data, in seconds)."""
    import shutil

    for folder in sorted(p for p in DIGITS.iterdir() if p.is_dir()):
        (root / folder.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(folder.glob("*.png"))[:per_class]:
            shutil.copy(f, root / folder.name / f.name)
    return root


def history(run_dir: Path) -> list[dict[str, float]]:
    """``history.csv`` as numbers, without the timing columns (which differ from run to run)."""
    import csv

    with open(run_dir / "history.csv", newline="", encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items() if k not in ("seconds",)} for row in csv.DictReader(fh)]
