"""A :class:`~cnnspec.run.data.DataPlan` -> ``tf.data`` pipelines, with Keras' own loader.

The loader's decoded images are cached *unbatched*, and shuffled after the cache: caching
its batched output would replay the first epoch's order in every epoch.  Each epoch's order
is a function of the run's seed and the epoch alone (:func:`epoch_seed`), so a resumed run
reads what the uninterrupted one read.  TensorFlow and Keras are imported inside the
functions.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.run.data import DataPlan, FolderScan

if TYPE_CHECKING:
    import tensorflow as tf

#: The shuffle buffer holds the whole training set up to this many images.
MAX_SHUFFLE_BUFFER = 100_000
#: Mixes the run's seed and the epoch into one shuffle seed (a prime, so that
#: seed s at epoch e and seed s+1 at epoch e-1 do not share an order).
EPOCH_STRIDE = 1_000_003


def epoch_seed(seed: int, epoch: Any) -> Any:
    """The shuffle seed of one epoch: a function of the run's seed and the
    epoch alone (a Python int, or a tensor when ``epoch`` is one)."""
    return seed * EPOCH_STRIDE + epoch


@contextmanager
def readable_dir(scan: FolderScan) -> Iterator[str]:
    """The folder for Keras' loader: the folder itself, or, when bad files
    are skipped, a temporary tree of links to the good ones (the loader takes
    a folder, not a file list; the same sorted names keep the same split)."""
    if not scan.bad:
        yield scan.path
        return
    bad = {b.path for b in scan.bad}
    with tempfile.TemporaryDirectory(prefix="cnnspec-data-") as tmp:
        for name in scan.class_names:
            Path(tmp, name).mkdir()
        for rel in scan.files:
            if rel in bad:
                continue
            link = Path(tmp, rel)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(Path(scan.path, rel), link)
        yield tmp


def load_folder(directory: str, plan: DataPlan, seed: int, subset: str | None, shuffle: bool) -> Any:
    import keras

    # The loader prints "Using N files for training." even when not verbose.
    with contextlib.redirect_stdout(io.StringIO()):
        return keras.utils.image_dataset_from_directory(
            directory,
            labels="inferred",
            label_mode="int",
            class_names=list(plan.class_names),
            color_mode=plan.color_mode,
            batch_size=None,  # unbatched: cached as single images, batched after the shuffle
            image_size=plan.image_shape[:2],
            shuffle=shuffle,
            seed=seed,
            validation_split=plan.val_split if subset else None,
            subset=subset,
            interpolation="bilinear",
            follow_links=True,
            verbose=False,
        )


def pipeline(
    images: tf.data.Dataset,
    *,
    batch_size: int,
    shuffle_seed: int | None = None,
    size: int = MAX_SHUFFLE_BUFFER,
    binary: bool = False,
    epoch: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Cache unbatched images, shuffle after the cache (a new order every
    epoch) when ``shuffle_seed`` is given, batch, and prefetch.

    Images are cached as uint8 (a quarter of float32's memory; the loader's
    values are 0-255 already, resized ones rounded) and batches handed on as
    float32.  ``binary`` gives labels of shape ``(batch, 1)`` as float, for a
    single sigmoid unit.

    ``epoch`` (an int64 ``tf.Variable``) makes each pass's order a function
    of ``shuffle_seed`` and the variable's value when the pass begins alone,
    not of how many passes this dataset made before: set it at the start of
    every epoch, and a resumed run replays the orders of an uninterrupted one.
    Without it the order follows TensorFlow's per-iteration reshuffle.
    """
    import tensorflow as tf

    def to_uint8(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8), y

    def to_float(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if binary:
            y = tf.expand_dims(tf.cast(y, tf.float32), -1)
        return tf.cast(x, tf.float32), y

    ds = images.map(to_uint8, num_parallel_calls=tf.data.AUTOTUNE).cache()
    buffer = min(size, MAX_SHUFFLE_BUFFER)
    if shuffle_seed is not None and epoch is not None:
        cached, base = ds, shuffle_seed

        def one_pass(_: tf.Tensor) -> tf.data.Dataset:
            # Read when each pass begins; every pass shares the one cache.
            seed = epoch_seed(base, tf.cast(epoch, tf.int64))
            return cached.shuffle(buffer, seed=seed, reshuffle_each_iteration=False)

        ds = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
        known = cached.cardinality()
        if int(known) >= 0:  # so that Keras counts the steps of an epoch, as without the flat_map
            ds = ds.apply(tf.data.experimental.assert_cardinality(known))
    elif shuffle_seed is not None:
        ds = ds.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


@contextmanager
def open_datasets(
    plan: DataPlan,
    *,
    batch_size: int,
    seed: int,
    shuffle_seed: int | None = None,
    binary: bool = False,
    epoch: tf.Variable | None = None,
) -> Iterator[tuple[tf.data.Dataset, tf.data.Dataset]]:
    """``(train, val)`` batched pipelines for ``plan``, valid inside the ``with``.

    ``seed`` fixes the split (as Keras' loader does); ``shuffle_seed`` (default
    ``seed``) the per-epoch orders, and ``epoch`` (see :func:`pipeline`) makes
    each epoch's order depend on its number alone, as training needs.
    """
    with readable_dir(plan.train) as train_dir:
        if plan.val is None:
            train_images, val_images = load_folder(train_dir, plan, seed, "both", shuffle=True)
            yield _pipelines(plan, train_images, val_images, batch_size, seed, shuffle_seed, binary, epoch)
        else:
            with readable_dir(plan.val) as val_dir:
                train_images = load_folder(train_dir, plan, seed, None, shuffle=True)
                val_images = load_folder(val_dir, plan, seed, None, shuffle=False)
                yield _pipelines(plan, train_images, val_images, batch_size, seed, shuffle_seed, binary, epoch)


def _pipelines(
    plan: DataPlan,
    train: Any,
    val: Any,
    batch_size: int,
    seed: int,
    shuffle_seed: int | None,
    binary: bool,
    epoch: Any,
) -> tuple[Any, Any]:
    return (
        pipeline(
            train,
            batch_size=batch_size,
            shuffle_seed=seed if shuffle_seed is None else shuffle_seed,
            size=plan.n_train,
            binary=binary,
            epoch=epoch,
        ),
        pipeline(val, batch_size=batch_size, binary=binary),
    )


__all__ = ["epoch_seed", "load_folder", "open_datasets", "pipeline", "readable_dir"]
