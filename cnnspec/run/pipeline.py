"""A :class:`~cnnspec.run.data.DataPlan` -> batches that Keras takes on every backend.

The images are decoded once, with Pillow, into one uint8 array per split (a memory map on
disk when they do not fit in memory), by the conversion that prediction uses
(:func:`cnnspec.run.images.convert`): training, evaluation and ``predict`` see the same
pixels.  Batches are handed to Keras as a ``keras.utils.PyDataset`` of float32 arrays, which
the TensorFlow, JAX and PyTorch backends all accept; no TensorFlow is imported here.

The split is Keras' own (``image_dataset_from_directory``'s file order and shuffle), so a run
started by an older cnnspec resumes on the same images.  Each epoch's order is a function of
the run's seed and the epoch alone (:func:`epoch_seed`), set by :meth:`set_epoch` at the
start of every epoch, so a resumed run reads what the uninterrupted one read.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnspec.run.data import DataError, DataPlan, FolderScan

#: Mixes the run's seed and the epoch into one shuffle seed (a prime, so that
#: seed s at epoch e and seed s+1 at epoch e-1 do not share an order).
EPOCH_STRIDE = 1_000_003
#: Where decoded images go when they do not fit in memory (default: the system's temp folder).
CACHE_DIR_ENV = "CNNSPEC_CACHE_DIR"
#: The share of the free memory that decoded images may take before they go to disk.
MEMORY_SHARE = 0.5


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of one epoch: a function of the run's seed and the epoch alone."""
    return seed * EPOCH_STRIDE + epoch


# --- which files, in which order ----------------------------------------------------


def keras_order(scan: FolderScan) -> list[tuple[str, int]]:
    """The good files of ``scan`` with their labels, in the order of Keras' loader: class by
    class, each class's folders by path, each folder's files by name."""
    bad = {b.path for b in scan.bad}
    label = {name: i for i, name in enumerate(scan.class_names)}

    def key(rel: str) -> tuple[int, str, str]:
        folder, _, name = rel.rpartition("/")
        return label[rel.split("/", 1)[0]], folder, name

    return [(rel, label[rel.split("/", 1)[0]]) for rel in sorted(scan.files, key=key) if rel not in bad]


def split(dplan: DataPlan, seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """``(train, val)`` as Keras' loader splits them: the training folder shuffled by
    ``numpy.random.RandomState(seed)`` and its last ``val_split`` share held out, or the
    validation folder in its own (unshuffled) order."""
    import numpy as np

    items = keras_order(dplan.train)
    np.random.RandomState(seed).shuffle(items)  # type: ignore[arg-type]
    if dplan.val is not None:
        return items, keras_order(dplan.val)
    n_val = int(dplan.val_split * len(items))
    return items[:-n_val], items[-n_val:]


# --- decoding -----------------------------------------------------------------------


def _free_memory() -> int | None:
    """Bytes of memory available (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def _array(shape: tuple[int, ...], what: str, note: Callable[[str], None] | None) -> Any:
    """An uninitialized uint8 array of ``shape``: in memory when it fits, else a memory map
    in :data:`CACHE_DIR_ENV` (deleted with the array), else :class:`DataError`."""
    import numpy as np

    need = math.prod(shape)
    free = _free_memory()
    if free is None or need <= MEMORY_SHARE * free:
        return np.empty(shape, dtype=np.uint8)
    folder = os.environ.get(CACHE_DIR_ENV) or tempfile.gettempdir()
    disk = shutil.disk_usage(folder).free
    if need > disk:
        raise DataError(
            f"the {what} need {_gb(need)} decoded ({'x'.join(map(str, shape[1:]))} uint8 each): "
            f"{_gb(free)} of memory and {_gb(disk)} of disk in {folder} are free",
            f"free memory or disk, point {CACHE_DIR_ENV} at a folder with {_gb(need)} free, or train on smaller I:",
        )
    if note is not None:
        note(f"the {what} ({_gb(need)} decoded) do not fit in memory ({_gb(free)} free): mapped from {folder}")
    with tempfile.NamedTemporaryFile(prefix="cnnspec-images-", dir=folder) as f:  # unlinked: gone with the map
        return np.memmap(f, dtype=np.uint8, mode="w+", shape=shape)


def decode_all(
    root: str, items: list[tuple[str, int]], shape: tuple[int, int, int], what: str = "images",
    note: Callable[[str], None] | None = None,
) -> tuple[Any, Any]:  # fmt: skip
    """``(images, labels)``: every file of ``items`` (relative to ``root``) decoded to
    ``shape`` as uint8, in order, and its labels as int32.  Threads: Pillow decodes in C."""
    import numpy as np

    from cnnspec.run.images import decode

    images = _array((len(items), *shape), f"{len(items)} {what}", note)
    labels = np.array([label for _, label in items], dtype=np.int32)

    def one(i: int) -> None:
        images[i] = decode(Path(root, items[i][0]), shape)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(one, range(len(items))))
    return images, labels


# --- batches ------------------------------------------------------------------------


def batches(
    images: Any,
    labels: Any,
    *,
    batch_size: int,
    shuffle_seed: int | None = None,
    binary: bool = False,
    augment: Callable[[Any], Any] | None = None,
) -> Any:
    """A ``keras.utils.PyDataset`` of ``(float32 images, labels)`` batches.

    With ``shuffle_seed``, each epoch's order is ``(shuffle_seed, epoch)``'s permutation,
    the epoch set by ``set_epoch`` before the epoch begins (0 until then); without, the
    stored order.  ``binary`` gives labels of shape ``(batch, 1)`` as float32, for a single
    sigmoid unit.  ``augment`` (training only) maps a float32 batch to its augmented form.
    """
    import keras
    import numpy as np

    if _use_tf_data(images, augment):
        return _tf_batches(images, labels, batch_size=batch_size, shuffle_seed=shuffle_seed, binary=binary)

    class ImageBatches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.images, self.labels = images, labels
            self.order: Any = None
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:
            """Fix the order of the epoch ``epoch`` (0-based) that is about to begin."""
            if shuffle_seed is not None:
                self.order = np.random.default_rng(epoch_seed(shuffle_seed, epoch)).permutation(len(self.labels))

        def __len__(self) -> int:
            return math.ceil(len(self.labels) / batch_size)

        def __getitem__(self, index: int) -> tuple[Any, Any]:
            if index >= len(self):
                raise IndexError(index)
            picked: Any = slice(index * batch_size, (index + 1) * batch_size)
            if self.order is not None:
                picked = np.sort(self.order[picked])  # sorted: a memory map reads forward
            x = np.asarray(self.images[picked], dtype=np.float32)
            y = np.asarray(self.labels[picked])
            if augment is not None:
                x = augment(x)
            if binary:
                y = y.astype(np.float32)[:, None]
            return x, y

    return ImageBatches()


#: ``pydataset`` or ``tf.data``: which pipeline the TensorFlow backend gets (for measuring;
#: default: tf.data, measured faster there, when the images are in memory).
PIPELINE_ENV = "CNNSPEC_PIPELINE"


def _use_tf_data(images: Any, augment: Any) -> bool:
    import keras
    import numpy as np

    if keras.backend.backend() != "tensorflow" or isinstance(images, np.memmap) or augment is not None:
        return False
    return os.environ.get(PIPELINE_ENV, "tf.data") != "pydataset"


class _TfBatches:
    """The TensorFlow backend's pipeline: the same batches as the ``PyDataset`` (the same
    per-epoch permutations, drawn by numpy), gathered by ``tf.data`` from the images in memory,
    without a Python call per batch."""

    def __init__(self, images: Any, labels: Any, batch_size: int, shuffle_seed: int | None, binary: bool) -> None:
        import numpy as np
        import tensorflow as tf

        self.n, self.batch_size, self.shuffle_seed = len(labels), batch_size, shuffle_seed
        self.order = tf.Variable(np.arange(self.n, dtype=np.int64), trainable=False)
        x = tf.constant(images)
        y = tf.constant(labels.astype(np.float32)[:, None] if binary else labels)
        order = self.order

        def one_pass(_: Any) -> Any:  # read when each pass begins: the order set_epoch left
            return tf.data.Dataset.from_tensor_slices(order.read_value())

        def gather(idx: Any) -> tuple[Any, Any]:
            idx = tf.sort(idx)  # as the PyDataset reads a batch
            return tf.cast(tf.gather(x, idx), tf.float32), tf.gather(y, idx)

        ds = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
        ds = ds.apply(tf.data.experimental.assert_cardinality(self.n))
        self.dataset = ds.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        import numpy as np

        if self.shuffle_seed is not None:
            self.order.assign(np.random.default_rng(epoch_seed(self.shuffle_seed, epoch)).permutation(self.n))

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for x, y in self.dataset:
            yield x.numpy(), y.numpy()


def _tf_batches(images: Any, labels: Any, *, batch_size: int, shuffle_seed: int | None, binary: bool) -> Any:
    return _TfBatches(images, labels, batch_size, shuffle_seed, binary)


def as_keras_data(batches: Any) -> Any:
    """What ``model.fit`` / ``predict`` take of :func:`batches`' value."""
    return batches.dataset if isinstance(batches, _TfBatches) else batches


@contextmanager
def open_datasets(
    plan: DataPlan,
    *,
    batch_size: int,
    seed: int,
    shuffle_seed: int | None = None,
    binary: bool = False,
    augment: Callable[[Any], Any] | None = None,
    note: Callable[[str], None] | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(train, val)`` batches of ``plan`` (see :func:`batches`), valid inside the ``with``.

    ``seed`` fixes the split (as Keras' loader does); ``shuffle_seed`` (default ``seed``)
    the per-epoch orders of the training batches.  ``augment`` applies to training only.
    """
    train_items, val_items = split(plan, seed)
    shape = plan.image_shape
    x, y = decode_all(plan.train.path, train_items, shape, "training images", note)
    vroot = plan.val.path if plan.val is not None else plan.train.path
    vx, vy = decode_all(vroot, val_items, shape, "validation images", note)
    train = batches(
        x, y, batch_size=batch_size, shuffle_seed=seed if shuffle_seed is None else shuffle_seed, binary=binary,
        augment=augment,
    )  # fmt: skip
    yield train, batches(vx, vy, batch_size=batch_size, binary=binary)


@contextmanager
def open_folder(plan: DataPlan, *, batch_size: int) -> Iterator[tuple[Any, Any]]:
    """The whole of ``plan``'s folder, unsplit and unshuffled, as ``(batches, labels)``
    (evaluation: decoded as training decoded its validation images)."""
    items = keras_order(plan.train)
    x, y = decode_all(plan.train.path, items, plan.image_shape, "test images")
    yield batches(x, y, batch_size=batch_size), y


__all__ = ["batches", "decode_all", "epoch_seed", "keras_order", "open_datasets", "open_folder", "split"]
