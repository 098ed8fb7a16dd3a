"""Image folder -> scanned, validated :class:`DataPlan` -> ``tf.data`` pipelines.

Three steps, so that every refusal happens before anything is written:

1. :func:`scan` lists a folder the way Keras' ``image_dataset_from_directory``
   will (one subfolder per class, files with an image extension, searched
   recursively) and opens every file with Pillow: classes, counts per class,
   sizes and colour modes seen, files that are not decodable images, and a
   fingerprint of the names and sizes.  Pure Python; no TensorFlow.
2. :func:`plan` decides what training will read (image shape, colour mode,
   the split) and raises :class:`DataError` for what cannot work.
3. :func:`cnnspec.run.pipeline.open_datasets` builds the ``tf.data`` pipelines from
   the plan (a module of its own: this one never needs TensorFlow).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from pydantic import BaseModel, ConfigDict

from cnnspec.errors import UserError
from cnnspec.run.images import (
    ALPHA_MODES,
    COLOR_MODES,
    GRAY_MODES,
    IMAGE_EXTENSIONS,
    KIND_OF_CHANNELS,
    kinds,
    probe,
)

if TYPE_CHECKING:
    pass

#: How many bad files a message lists before it says "and N more".
SHOW_BAD = 10


class DataError(UserError):
    """A data folder that cannot be trained on: a message and a hint."""

    code = "data"


class BadFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str  # relative to the folder, with '/'
    reason: str


class FolderScan(BaseModel):
    """What an image folder holds, as Keras' loader will see it."""

    model_config = ConfigDict(frozen=True)

    path: str
    class_names: tuple[str, ...]
    #: Files per class (bad ones included).
    counts: dict[str, int]
    #: Relative paths of every image file, sorted.
    files: tuple[str, ...]
    bad: tuple[BadFile, ...] = ()
    #: ``"HxW"`` -> number of images of that size (decodable images only).
    sizes: dict[str, int]
    #: Pillow mode -> number of images.
    modes: dict[str, int]
    #: sha256 of every relative name and byte size, one per line, sorted.
    fingerprint: str

    @property
    def total(self) -> int:
        return len(self.files)

    @property
    def good_counts(self) -> dict[str, int]:
        bad = Counter(b.path.split("/", 1)[0] for b in self.bad)
        return {name: n - bad[name] for name, n in self.counts.items()}

    @property
    def good_total(self) -> int:
        return self.total - len(self.bad)

    @property
    def channels(self) -> int:
        """1 when every image is grayscale, 4 when every one has alpha, else 3."""
        modes = set(self.modes)
        if modes and modes <= GRAY_MODES:
            return 1
        if modes and modes <= ALPHA_MODES:
            return 4
        return 3

    @property
    def size(self) -> tuple[int, int] | None:
        """The one image size ``(H, W)`` shared by every image, or None."""
        if len(self.sizes) != 1:
            return None
        h, w = next(iter(self.sizes)).split("x")
        return int(h), int(w)

    def data_record(self) -> dict[str, object]:
        """The ``data`` entry of ``run.json``."""
        return {
            "path": self.path,
            "files": self.total,
            "fingerprint": self.fingerprint,
            "counts": self.counts,
            "bad": [b.path for b in self.bad],
        }

    def describe(self) -> str:
        """One line: ``10 classes, 1797 images, 8x8 grayscale``."""
        sizes = ", ".join(f"{s} ({n})" if len(self.sizes) > 1 else s for s, n in _top(self.sizes, 3))
        if len(self.sizes) > 3:
            sizes += f", ... ({len(self.sizes)} sizes)"
        by_kind = kinds(self.modes)
        # A mix is said as a mix: "colour" alone hid that most images were grayscale.
        colour = (
            " and ".join(f"{k} ({n})" for k, n in by_kind.items())
            if len(by_kind) > 1
            else KIND_OF_CHANNELS[self.channels]
        )
        text = f"{len(self.class_names)} classes, {self.total} images, {sizes} {colour}"
        if self.bad:
            text += f", {len(self.bad)} not decodable"
        return text


def count_line(counts: dict[str, int], most: int = 24) -> str:
    """Images per class on one line, in class order: ``cat 12 · dog 12``
    (past ``most`` classes, the rest are summed: ``· 76 more classes 890``)."""
    shown = [f"{name} {n}" for name, n in list(counts.items())[:most]]
    rest = list(counts.values())[most:]
    if rest:
        shown.append(f"{len(rest)} more classes {sum(rest)}")
    return " · ".join(shown)


def _top(counter: dict[str, int], n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _class_names(root: Path, path: str | os.PathLike[str]) -> list[str]:
    """The class subfolders of ``root`` (at least two), or :class:`DataError`."""
    if not root.exists():
        raise DataError(f"no such data folder: {path}", "give a folder with one subfolder of images per class")
    if not root.is_dir():
        raise DataError(f"{path} is not a folder", "give a folder with one subfolder of images per class")
    # Hidden folders (.ipynb_checkpoints, .git) are no classes.
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_names:
        loose = sum(1 for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        raise DataError(
            f"{path} has no class subfolders" + (f" (it holds {loose} images directly)" if loose else ""),
            "put the images of each class in their own subfolder: DIR/cat/*.png, DIR/dog/*.png",
        )
    if len(class_names) == 1:
        raise DataError(
            f"{path} has a single class subfolder ({class_names[0]}): a classifier needs at least 2",
            "add a subfolder per class",
        )
    return class_names


def _image_files(root: Path, class_names: list[str], path: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
    """Every image file of every class (relative, sorted) and the count per class; a class
    without any is a :class:`DataError`."""
    files: list[str] = []
    counts: dict[str, int] = {}
    for name in class_names:
        found = []
        for dirpath, _dirs, names in os.walk(root / name):
            for fname in names:
                if fname.lower().endswith(IMAGE_EXTENSIONS):
                    found.append(Path(dirpath, fname).relative_to(root).as_posix())
        counts[name] = len(found)
        files += found
    empty = [n for n, c in counts.items() if c == 0]
    if empty:
        raise DataError(
            f"class folder{'s' if len(empty) > 1 else ''} with no images in {path}: {', '.join(empty)}",
            f"add images ({', '.join(IMAGE_EXTENSIONS)}) or remove the empty folder",
        )
    return sorted(files), counts


def _decode_all(root: Path, files: list[str]) -> tuple[Counter[str], Counter[str], list[BadFile]]:
    """Open every file with Pillow (threads: it is I/O and C code): sizes, modes, bad files."""
    sizes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    bad: list[BadFile] = []
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for rel, (size, mode, reason) in zip(files, pool.map(lambda r: probe(root / r), files), strict=True):
            if size is None:
                bad.append(BadFile(path=rel, reason=reason))
            else:
                sizes[size] += 1
                modes[str(mode)] += 1
    return sizes, modes, bad


def scan(path: str | os.PathLike[str], *, decode: bool = True) -> FolderScan:
    """List and open every image of a class-per-subfolder folder.

    Raises :class:`DataError` for a missing folder, one with no class
    subfolders or a single class, and a class with no image files.
    Undecodable files are listed in ``bad``, not raised: :func:`plan` decides.
    """
    root = Path(path).expanduser()
    class_names = _class_names(root, path)
    files, counts = _image_files(root, class_names, path)
    digest = hashlib.sha256()
    for rel in files:
        digest.update(f"{rel}\t{(root / rel).stat().st_size}\n".encode())
    sizes, modes, bad = _decode_all(root, files) if decode else (Counter(), Counter(), [])
    return FolderScan(
        path=str(root.resolve()),
        class_names=tuple(class_names),
        counts=counts,
        files=tuple(files),
        bad=tuple(bad),
        sizes=dict(sizes),
        modes=dict(modes),
        fingerprint=digest.hexdigest(),
    )


class DataPlan(BaseModel):
    """What training reads: folders, image shape, colour mode and split."""

    model_config = ConfigDict(frozen=True)

    train: FolderScan
    val: Optional[FolderScan] = None
    image_shape: tuple[int, int, int]
    val_split: float
    skip_bad: bool = False
    n_train: int
    n_val: int

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names

    @property
    def color_mode(self) -> str:
        return COLOR_MODES[self.image_shape[2]]


def bad_message(scan: FolderScan) -> DataError:
    shown = [f"  {b.path}: {b.reason}" for b in scan.bad[:SHOW_BAD]]
    if len(scan.bad) > SHOW_BAD:
        shown.append(f"  ... and {len(scan.bad) - SHOW_BAD} more")
    n = len(scan.bad)
    return DataError(
        f"{n} file{'s' if n > 1 else ''} in {scan.path} {'are' if n > 1 else 'is'} not decodable:\n" + "\n".join(shown),
        "remove or fix them, or pass --skip-bad to train without them",
    )


def _check_folders(train: FolderScan, val: FolderScan | None, skip_bad: bool) -> None:
    """Bad files (unless skipped), classes left empty by skipping, validation classes."""
    for folder in (train, val):
        if folder is None:
            continue
        if folder.bad and not skip_bad:
            raise bad_message(folder)
        emptied = [n for n, c in folder.good_counts.items() if c == 0]
        if emptied:
            raise DataError(
                f"no decodable images left in class{'es' if len(emptied) > 1 else ''} {', '.join(emptied)} "
                f"of {folder.path}",
                "add decodable images to it",
            )
    if val is not None and val.class_names != train.class_names:
        missing = sorted(set(train.class_names) - set(val.class_names))
        extra = sorted(set(val.class_names) - set(train.class_names))
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"extra {', '.join(extra)}"] if extra else []
        )
        raise DataError(
            f"the validation folder's classes differ from the training folder's: {'; '.join(parts)}",
            "give both folders the same class subfolders",
        )


def _split(train: FolderScan, val: FolderScan | None, val_split: float) -> tuple[int, int]:
    """The training and validation image counts, or :class:`DataError` when too few."""
    n_classes = len(train.class_names)
    if val is not None:
        if train.good_total < n_classes:
            raise DataError(
                f"{train.good_total} training images are too few for {n_classes} classes",
                "add images to the training folder",
            )
        return train.good_total, val.good_total
    n = train.good_total
    n_val = int(val_split * n)  # exactly as Keras' loader splits
    n_train = n - n_val
    if n_val < 1 or n_train < n_classes:
        raise DataError(
            f"{n} images are too few for a validation split of {val_split:g}: "
            f"it leaves {n_train} for training and {n_val} for validation",
            f"add images (at least {max(n_classes, 2)} for training and 1 for validation), "
            "change --val-split, or give --val DIR",
        )
    return n_train, n_val


def _data_shape(train: FolderScan, val: FolderScan | None) -> tuple[int, int, int]:
    """The one image size of the data (with its channels), for a spec without ``I:``."""
    size = train.size
    all_sizes = Counter(train.sizes) + (Counter(val.sizes) if val else Counter())
    if size is None or len(all_sizes) > 1:
        seen = ", ".join(f"{s} ({n})" for s, n in _top(dict(all_sizes), 4))
        if len(all_sizes) > 4:
            seen += f", …and {len(all_sizes) - 4} more"
        raise DataError(
            f"the images have {len(all_sizes)} different sizes ({seen}) and the spec has no I: to resize them to",
            "write I: HxWxC in the spec (for instance I: 64x64x3)",
        )
    return (size[0], size[1], train.channels)


def plan(
    train: FolderScan,
    *,
    val: FolderScan | None = None,
    val_split: float = 0.2,
    image_shape: tuple[int, int, int] | None = None,
    skip_bad: bool = False,
) -> DataPlan:
    """Decide what training reads; raise :class:`DataError` for what cannot work.

    ``image_shape`` is the spec's ``I:`` (images are resized to its height and
    width); without it the images must share one size.  The channel count
    comes from ``image_shape`` or the data (1 grayscale, 3 RGB, 4 RGBA).
    """
    _check_folders(train, val, skip_bad)
    n_train, n_val = _split(train, val, val_split)
    return DataPlan(
        train=train,
        val=val,
        image_shape=tuple(image_shape) if image_shape is not None else _data_shape(train, val),  # type: ignore[arg-type]
        val_split=val_split,
        skip_bad=skip_bad,
        n_train=n_train,
        n_val=n_val,
    )


__all__ = [
    "COLOR_MODES",
    "IMAGE_EXTENSIONS",
    "BadFile",
    "DataError",
    "DataPlan",
    "FolderScan",
    "count_line",
    "plan",
    "scan",
]
