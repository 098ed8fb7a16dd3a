"""Write scikit-learn's bundled handwritten digits as PNG files, one folder per class.

    python examples/make_digits.py            # -> examples/data/digits/0 ... 9

The 1797 images are 8x8 grayscale; scikit-learn stores them as values 0-16,
written here as 0-255 pixels (x 255/16, rounded) so that the folder looks like
any other image folder.  Runs offline: the data ships inside scikit-learn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_digits(out: Path) -> int:
    """Write every digit as ``out/<label>/<index>.png``; return the number written."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images * (255 / 16)), 0, 255).astype(np.uint8)
    for label in sorted(set(digits.target.tolist())):
        (out / str(label)).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
        Image.fromarray(image).save(out / str(label) / f"{i:04d}.png", optimize=True)
    return len(pixels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data" / "digits", help="target folder")
    args = parser.parse_args()
    n = write_digits(args.out)
    print(f"wrote {n} images to {args.out}")


if __name__ == "__main__":
    main()
