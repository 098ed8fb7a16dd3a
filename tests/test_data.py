"""The image-folder scan, the plan and its refusals, and the input pipelines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from image_folders import make_folder
from PIL import Image

from cnnspec.run.data import DataError, count_line, plan, scan
from cnnspec.run.pipeline import open_datasets

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

DIGITS = Path(__file__).resolve().parents[1] / "examples" / "data" / "digits"


def test_scan_digits_example() -> None:
    s = scan(DIGITS)
    assert s.class_names == tuple(str(i) for i in range(10))
    assert s.total == 1797 and sum(s.counts.values()) == 1797
    assert s.sizes == {"8x8": 1797} and s.channels == 1 and s.size == (8, 8)
    assert not s.bad
    assert s.describe() == "10 classes, 1797 images, 8x8 grayscale"
    p = plan(s)
    assert p.image_shape == (8, 8, 1) and p.color_mode == "grayscale"
    assert (p.n_train, p.n_val) == (1797 - 359, 359)  # Keras: int(0.2 * 1797) for validation


def test_digits_folder_is_small() -> None:
    total = sum(f.stat().st_size for f in DIGITS.rglob("*.png"))
    assert total < 2_000_000


def test_fingerprint_follows_names_and_sizes(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d")
    first = scan(d).fingerprint
    assert scan(d).fingerprint == first
    (d / "a" / "000.png").rename(d / "a" / "zzz.png")
    assert scan(d).fingerprint != first


@pytest.mark.parametrize(("channels", "expected"), [(1, "grayscale"), (3, "rgb"), (4, "rgba")])
def test_colour_mode_from_the_data(tmp_path: Path, channels: int, expected: str) -> None:
    p = plan(scan(make_folder(tmp_path / "d", channels=channels)))
    assert p.image_shape == (12, 12, channels) and p.color_mode == expected


def test_mixed_gray_and_colour_is_rgb(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d", channels=1)
    make_folder(tmp_path / "d", {"a": 3}, channels=3, seed=1, ext="jpg")
    assert scan(d).channels == 3


def test_hidden_folders_are_no_classes(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d")
    make_folder(d / ".ipynb_checkpoints", {"x": 2})
    assert scan(d).class_names == ("a", "b")


def _refused(path: Path | str, match: str, **plan_kw: object) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        plan(scan(path), **plan_kw)  # type: ignore[arg-type]
    assert info.value.hint
    return info.value


def test_missing_folder(tmp_path: Path) -> None:
    _refused(tmp_path / "nope", "no such data folder")


def test_a_file_is_no_folder(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(b"x")
    _refused(tmp_path / "f.png", "is not a folder")


def test_no_class_subfolders(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d", {"a": 3})
    for f in (d / "a").iterdir():
        f.rename(d / f.name)
    (d / "a").rmdir()
    _refused(d, r"no class subfolders \(it holds 3 images directly\)")


def test_single_class(tmp_path: Path) -> None:
    _refused(make_folder(tmp_path / "d", {"cats": 5}), r"single class subfolder \(cats\)")


def test_empty_class(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d")
    (d / "c").mkdir()
    (d / "c" / "notes.txt").write_text("not an image")
    _refused(d, "with no images in .*: c")


def test_too_few_images_for_the_split(tmp_path: Path) -> None:
    err = _refused(make_folder(tmp_path / "d", {"a": 1, "b": 1}), "too few for a validation split of 0.2")
    assert "0 for validation" in err.message


def test_undecodable_files_are_listed(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d")
    (d / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (d / "b" / "notes.jpg").write_text("hello")
    Image.new("RGB", (12, 12)).save(d / "b" / "tiff.png", format="TIFF")  # a TIFF that TensorFlow cannot read
    s = scan(d)
    assert sorted(b.path for b in s.bad) == ["a/broken.png", "b/notes.jpg", "b/tiff.png"]
    assert "TensorFlow cannot decode" in next(b.reason for b in s.bad if b.path == "b/tiff.png")
    err = _refused(d, "3 files in .* are not decodable")
    assert "a/broken.png" in err.message and "--skip-bad" in (err.hint or "")
    p = plan(s, skip_bad=True)
    assert p.n_train + p.n_val == 40


def test_a_class_of_only_bad_files(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d")
    (d / "c").mkdir()
    (d / "c" / "x.png").write_text("x")
    _refused(d, "no decodable images left in class c", skip_bad=True)


def test_sizes_differ_without_input_shape(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d", size=(12, 12))
    make_folder(d, {"a": 2}, size=(10, 14), seed=3)  # overwrites two of class a
    _refused(d, r"2 different sizes \(12x12 \(38\), 10x14 \(2\)\)")
    assert plan(scan(d), image_shape=(8, 8, 1)).image_shape == (8, 8, 1)


def test_validation_folder_classes_must_match(tmp_path: Path) -> None:
    train = scan(make_folder(tmp_path / "t"))
    val = scan(make_folder(tmp_path / "v", {"a": 2, "c": 2}))
    with pytest.raises(DataError, match="missing b; extra c"):
        plan(train, val=val)
    p = plan(train, val=scan(make_folder(tmp_path / "v2", {"a": 3, "b": 2})))
    assert (p.n_train, p.n_val) == (40, 5)


def _epoch(ds: object) -> tuple[list[int], list[float]]:
    labels: list[int] = []
    sums: list[float] = []
    for x, y in ds:  # type: ignore[attr-defined]
        labels += np.asarray(y).reshape(-1).tolist()
        sums += np.asarray(x).reshape(len(x), -1).sum(axis=1).tolist()
    return labels, sums


def test_pipeline_reshuffles_every_epoch(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d", {"a": 30, "b": 30, "c": 30})
    p = plan(scan(d))
    with open_datasets(p, batch_size=8, seed=1) as (train, val):
        first = _epoch(train)
        train.set_epoch(1)
        second = _epoch(train)
        assert sorted(first[1]) == sorted(second[1])  # the same images...
        assert first[1] != second[1]  # ...in another order
        assert len(first[0]) == p.n_train == 72
        v1, v2 = _epoch(val), _epoch(val)
        assert v1 == v2 and len(v1[0]) == p.n_val == 18  # validation keeps its order
        x, y = next(iter(train))
        assert x.dtype.name == "float32" and tuple(x.shape[1:]) == (12, 12, 1) and y.dtype.name == "int32"
        assert 0 <= float(np.min(x)) and float(np.max(x)) <= 255


def test_pipeline_skips_bad_files_and_resizes(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "d", {"a": 10, "b": 10}, channels=3)
    (d / "a" / "bad.png").write_text("nope")
    p = plan(scan(d), image_shape=(6, 6, 3), skip_bad=True)
    with open_datasets(p, batch_size=4, seed=0, binary=True) as (train, val):
        labels, _ = _epoch(train)
        vlabels, _ = _epoch(val)
        x, y = next(iter(train))
    assert len(labels) + len(vlabels) == 20
    assert tuple(x.shape[1:]) == (6, 6, 3) and tuple(y.shape[1:]) == (1,) and y.dtype.name == "float32"


def test_the_epoch_fixes_each_epochs_order(tmp_path: Path) -> None:
    """The order of a pass is a function of (seed, epoch) alone, whatever passes came
    before: what lets a resumed run replay the orders."""
    p = plan(scan(make_folder(tmp_path / "d", {"a": 10, "b": 10})))
    with open_datasets(p, batch_size=4, seed=1) as (train, _):
        assert len(train) == 4  # 16 images: Keras sees the steps of an epoch
        orders: dict[int, list[list[float]]] = {}
        for e in (0, 1, 2, 1, 0):
            train.set_epoch(e)
            orders.setdefault(e, []).append(_epoch(train)[1])
    assert orders[0][0] == orders[0][1] and orders[1][0] == orders[1][1]
    assert orders[0][0] != orders[1][0] != orders[2][0]
    assert sorted(orders[0][0]) == sorted(orders[2][0])


def test_tf_data_and_the_pydataset_give_the_same_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorFlow's pipeline (tf.data, measured faster there) and every other backend's
    (a PyDataset) hand Keras the same batches, epoch by epoch."""
    from cnnspec.run.pipeline import PIPELINE_ENV

    p = plan(scan(make_folder(tmp_path / "d", {"a": 9, "b": 8}, channels=3)), image_shape=(5, 7, 3))
    seen = {}
    for kind in ("tf.data", "pydataset"):
        monkeypatch.setenv(PIPELINE_ENV, kind)
        with open_datasets(p, batch_size=4, seed=3) as (train, val):
            assert type(train).__name__ == ("_TfBatches" if kind == "tf.data" else "ImageBatches")
            epochs = []
            for e in (0, 1):
                train.set_epoch(e)
                epochs.append([(np.asarray(x).tolist(), np.asarray(y).tolist()) for x, y in train])
            epochs.append([(np.asarray(x).tolist(), np.asarray(y).tolist()) for x, y in val])
        seen[kind] = epochs
    assert seen["tf.data"] == seen["pydataset"]


def test_the_split_is_keras_loaders(tmp_path: Path) -> None:
    """Training and validation hold the files that Keras' image_dataset_from_directory puts in
    them (a run started by an older cnnspec, which read with it, resumes on the same images)."""
    import keras

    from cnnspec.run.pipeline import split

    d = make_folder(tmp_path / "d", {"a": 13, "b": 11, "c": 7})
    p = plan(scan(d), val_split=0.3)
    train_items, val_items = split(p, seed=5)
    both = keras.utils.image_dataset_from_directory(
        d, batch_size=None, image_size=(12, 12), color_mode="grayscale", seed=5, validation_split=0.3,
        subset="both", shuffle=True, verbose=False,
    )  # fmt: skip
    from cnnspec.run.pipeline import decode_all

    for ds, items in zip(both, (train_items, val_items), strict=True):
        # The same images with the same labels (the loader shuffles its training part once more).
        expected = sorted((int(y), float(np.asarray(x).sum())) for x, y in ds.as_numpy_iterator())
        got, labels = decode_all(p.train.path, items, p.image_shape)
        assert sorted((int(y), float(x.astype(np.float64).sum())) for x, y in zip(got, labels, strict=True)) == expected


def test_counts_per_class_on_one_line(tmp_path: Path) -> None:
    s = scan(make_folder(tmp_path / "d", {"cat": 3, "dog": 2, "owl": 1}))
    assert s.counts == {"cat": 3, "dog": 2, "owl": 1}
    assert count_line(s.counts) == "cat 3 · dog 2 · owl 1"
    assert count_line(s.counts, most=1) == "cat 3 · 2 more classes 3"
