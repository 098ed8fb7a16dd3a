"""Image files: which extensions count, what Pillow's colour modes mean, and the Pillow
probe and conversions shared by training (:mod:`cnnspec.run.data`) and prediction
(:mod:`cnnspec.deploy.predict`).

Why two sets of extensions: training reads a folder with Keras' own loader, which decodes
through TensorFlow and knows only :data:`IMAGE_EXTENSIONS` (and, among Pillow's formats,
only :data:`TF_FORMATS`).  Prediction decodes every file with Pillow itself, so it also
takes WebP and TIFF (:data:`PREDICT_EXTENSIONS`): a deployed model should read what a
camera or a browser hands it, and nothing it decodes goes through TensorFlow.

Pure Python; Pillow and numpy are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The extensions Keras' loader reads (compared lower-case).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: What prediction decodes with Pillow: the loader's extensions, and WebP and TIFF.
PREDICT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Pillow formats that TensorFlow's ``decode_image`` can read (MPO is a JPEG).
TF_FORMATS = {"BMP", "GIF", "JPEG", "MPO", "PNG"}
#: Colour mode of Keras' loader for a channel count.
COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}
#: Pillow modes that the loader reads as 1 channel: no colour and no alpha.
GRAY_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "F"}
#: Pillow modes with an alpha channel (4 channels for the loader).
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
#: Pillow modes without colour, alpha or not: prediction converts them as gray.
COLOURLESS_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
#: 16-bit and float gray modes, whose range is scaled onto 0-255.
_WIDE_GRAY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def probe(path: Path) -> tuple[str | None, str | None, str]:
    """``(size "HxW", mode, "")`` for an image TensorFlow can decode, else ``(None, None, reason)``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt = im.format or "?"
            if fmt not in TF_FORMATS:
                return None, None, f"a {fmt} image, which TensorFlow cannot decode"
            im.load()  # a full decode: truncated files fail here, not in epoch 3
            return f"{im.height}x{im.width}", im.mode, ""
    except UnidentifiedImageError:
        return None, None, "not an image"
    except Exception as exc:  # Pillow raises many kinds for broken files
        return None, None, f"cannot be decoded ({type(exc).__name__}: {exc})".replace("\n", " ")


def convert(img: Any, shape: Sequence[int]) -> tuple[Any, list[str]]:
    """A decoded Pillow image as a ``HxWxC`` uint8 array for a model input ``shape``, and what
    was changed (colour conversions, a resize), one phrase each.

    The one conversion of training, evaluation and prediction alike: gray for one channel,
    RGB (alpha dropped) for three, RGBA for four (opaque when the image has none; 16-bit
    and float gray scaled onto 0-255 first), then a bilinear resize to ``HxW``.
    """
    import numpy as np
    from PIL import Image as PILImage

    height, width, channels = shape
    mode = img.mode
    notes: list[str] = []
    gray = mode in COLOURLESS_MODES  # a palette ("P") can be gray or colour: it counts as colour
    if channels == 1:
        if not gray:
            notes.append(f"converted {mode} image to grayscale for a 1-channel model")
        img = to_gray(img)
    elif channels == 3:
        if gray:
            notes.append(f"converted grayscale ({mode}) image to RGB for a 3-channel model")
        img = to_rgb(img)
    elif channels == 4:
        if mode not in ("RGBA", "LA", "PA") and not (mode == "P" and "transparency" in img.info):
            notes.append(f"converted {mode} image to RGBA (opaque) for a 4-channel model")
        img = (to_gray(img) if gray and mode != "LA" else img).convert("RGBA")
    else:
        raise ValueError(f"the model takes {channels} channels; images have 1, 3 or 4")
    if img.size != (width, height):
        notes.append(f"resized from {img.size[1]}x{img.size[0]} to {height}x{width}")
        img = img.resize((width, height), PILImage.Resampling.BILINEAR)
    pixels = np.asarray(img, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels, notes


def decode(path: Path, shape: Sequence[int]) -> Any:
    """The file at ``path`` as a ``HxWxC`` uint8 array (see :func:`convert`)."""
    from PIL import Image as PILImage

    with PILImage.open(path) as img:
        img.load()
        return convert(img, shape)[0]


def to_rgb(img: Any) -> Any:
    """A Pillow image as RGB: alpha dropped (colours kept as drawn), wide gray scaled first."""
    if img.mode in _WIDE_GRAY_MODES:
        img = to_gray(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA").convert("RGB")  # drop alpha, keep colors as drawn
    return img.convert("RGB")


def to_gray(img: Any) -> Any:
    """A Pillow image as 8-bit gray (``L``); 16-bit and float gray scaled onto 0-255."""
    import numpy as np
    from PIL import Image as PILImage

    if img.mode in _WIDE_GRAY_MODES:
        # 16-bit or float gray: scale the type's range onto 0-255.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return PILImage.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA", "P"):
        img = img.convert("RGBA").convert("RGB")
    return img.convert("L")


#: What the loader calls an image of a channel count, in messages.
KIND_OF_CHANNELS = {1: "grayscale", 3: "colour", 4: "with alpha"}


def colour_kind(mode: str) -> str:
    """``grayscale``, ``with alpha`` or ``colour``: how the loader counts a Pillow mode."""
    if mode in GRAY_MODES:
        return "grayscale"
    return "with alpha" if mode in ALPHA_MODES else "colour"


def kinds(modes: dict[str, int]) -> dict[str, int]:
    """Images per colour kind (see :func:`colour_kind`), most first."""
    out: dict[str, int] = {}
    for mode, n in modes.items():
        out[colour_kind(mode)] = out.get(colour_kind(mode), 0) + n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _images(n: int) -> str:
    return "1 image" if n == 1 else f"{n} images"


def conversions(sizes: dict[str, int], modes: dict[str, int], shape: Sequence[int]) -> list[str]:
    """What loading does to a folder's images for a model input ``HxWxC``: one phrase per change,
    ``12 images resized to 8x8``, ``40 colour images converted to grayscale``; none when nothing changes."""
    h, w, c = shape
    out = []
    resized = sum(n for size, n in sizes.items() if size != f"{h}x{w}")
    if resized:
        out.append(f"{_images(resized)} resized to {h}x{w}")
    target = KIND_OF_CHANNELS[c]
    for kind, n in kinds(modes).items():
        if kind != target:
            what = "image" if n == 1 else "images"
            out.append(
                f"{n} {what} {kind} converted to {target}"
                if kind == "with alpha"
                else f"{n} {kind} {what} converted to {target}"
            )
    return out


__all__ = [
    "ALPHA_MODES",
    "COLOR_MODES",
    "COLOURLESS_MODES",
    "GRAY_MODES",
    "IMAGE_EXTENSIONS",
    "KIND_OF_CHANNELS",
    "PREDICT_EXTENSIONS",
    "TF_FORMATS",
    "colour_kind",
    "conversions",
    "convert",
    "decode",
    "kinds",
    "probe",
    "to_gray",
    "to_rgb",
]
