"""Prediction: from ``.onnx`` without TensorFlow or Keras (proven in a subprocess), from a run directory
with Keras, image decoding and conversion, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_support import data_images, trained_run
from PIL import Image

BLOCKED = ("tensorflow", "keras", "tf2onnx", "tf_keras")

SHIM = f"""
import importlib.abc, os, sys

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            with open(os.environ["CNNSPEC_BLOCK_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ImportError(name + " is blocked: this process must not import it")
        return None

sys.meta_path.insert(0, _Blocked())
"""


@pytest.fixture(scope="module")
def onnx_models(keras, tmp_path_factory):
    from cnnspec.deploy.export import export

    out = {}
    for key in ("rgb", "gray", "logits"):
        path = tmp_path_factory.mktemp(f"predict-{key}") / f"{key}.onnx"
        export(trained_run(key), path)
        out[key] = path
    return out


@pytest.fixture(scope="module")
def no_tf_env(tmp_path_factory):
    shim = tmp_path_factory.mktemp("no-tf")
    (shim / "sitecustomize.py").write_text(SHIM, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(shim), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["CNNSPEC_BLOCK_LOG"] = str(shim / "blocked.log")
    env["COLUMNS"] = "200"
    return env


def _run(env, *args: str) -> subprocess.CompletedProcess:
    Path(env["CNNSPEC_BLOCK_LOG"]).unlink(missing_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cnnspec", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _blocked(env) -> list[str]:
    log = Path(env["CNNSPEC_BLOCK_LOG"])
    return log.read_text().split() if log.exists() else []


def test_the_shim_blocks_tensorflow_and_keras(no_tf_env):
    for mod in ("tensorflow", "keras"):
        proc = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True, text=True, env=no_tf_env)
        assert proc.returncode != 0 and "is blocked" in proc.stderr


def test_predict_onnx_without_tensorflow_matches_keras(onnx_models, no_tf_env, keras):
    from cnnspec.deploy.predict import load_images

    images = data_images("rgb")[::9]
    proc = _run(no_tf_env, "predict", str(onnx_models["rgb"]), *map(str, images), "--json", "-k", "3")
    assert proc.returncode == 0, proc.stderr
    assert _blocked(no_tf_env) == []  # nothing even tried to import them
    got = json.loads(proc.stdout)
    model = keras.saving.load_model(trained_run("rgb") / "model.keras")
    batch = np.stack([i.pixels for i in load_images(images, (24, 24, 3))])
    want = np.asarray(model(batch, training=False))
    names = json.loads((trained_run("rgb") / "run.json").read_text(encoding="utf-8"))["class_names"]
    assert [g["image"] for g in got] == [str(p) for p in images]
    for g, w in zip(got, want, strict=True):
        top = g["predictions"]
        assert len(top) == 3
        assert top[0]["class"] == names[int(w.argmax())]
        for t in top:
            assert abs(t["probability"] - float(w[t["index"]])) <= 1e-5
        assert abs(sum(t["probability"] for t in top) - 1) < 1e-5


def test_predict_table_without_tensorflow(onnx_models, no_tf_env):
    image = data_images("gray")[0]
    proc = _run(no_tf_env, "predict", str(onnx_models["gray"]), str(image))
    assert proc.returncode == 0, proc.stderr
    assert _blocked(no_tf_env) == []
    assert "probability" in proc.stdout and "class_00" in proc.stdout and "class_01" in proc.stdout


def test_run_dir_prediction_with_keras_equals_onnx(onnx_models, keras):
    from cnnspec.deploy.predict import predict

    images = data_images("logits")[::7]
    via_keras = predict(trained_run("logits"), images, top_k=10)
    via_onnx = predict(onnx_models["logits"], images, top_k=10)
    for a, b in zip(via_keras, via_onnx, strict=True):
        assert [r.index for r in a.top][:1] == [r.index for r in b.top][:1]
        probs_a = {r.index: r.probability for r in a.top}
        probs_b = {r.index: r.probability for r in b.top}
        assert max(abs(probs_a[i] - probs_b[i]) for i in range(10)) <= 1e-5
        assert abs(sum(probs_b.values()) - 1) < 1e-6  # logits went through a softmax


def test_sigmoid_head_gives_two_classes(onnx_models):
    from cnnspec.deploy.predict import predict

    (res,) = predict(onnx_models["gray"], data_images("gray")[:1], top_k=5)
    assert len(res.top) == 2 and res.kind == "probability"
    assert abs(sum(r.probability for r in res.top) - 1) < 1e-6
    assert {r.name for r in res.top} == {"class_00", "class_01"}


def test_predict_a_folder_without_tensorflow(onnx_models, no_tf_env, tmp_path):
    """A folder stands for its images and those one subfolder down, sorted; other files are skipped, with a note."""
    import shutil

    src = data_images("rgb")
    (tmp_path / "cats" / "deeper").mkdir(parents=True)
    shutil.copy(src[0], tmp_path / "b.png")
    shutil.copy(src[1], tmp_path / "cats" / "a.PNG")
    shutil.copy(src[2], tmp_path / "cats" / "deeper" / "c.png")
    (tmp_path / "readme.txt").write_text("not a picture")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    proc = _run(no_tf_env, "predict", str(onnx_models["rgb"]), str(tmp_path), str(src[3]), "--json")
    assert proc.returncode == 0, proc.stderr
    assert _blocked(no_tf_env) == []
    got = [g["image"] for g in json.loads(proc.stdout)]
    assert got == [str(tmp_path / "b.png"), str(tmp_path / "cats" / "a.PNG"), str(src[3])]
    assert "skipped readme.txt: not image files" in proc.stderr
    assert "skipped cats/deeper: only one level of subfolders is read" in proc.stderr
    assert ".DS_Store" not in proc.stderr


def test_folders_without_images_and_folders_passed_as_images(tmp_path):
    from cnnspec.deploy.predict import PredictError, image_files, load_image

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    with pytest.raises(PredictError, match="no images in the folder"):
        image_files([tmp_path / "empty"])
    named = tmp_path / "named.txt"
    assert image_files([named]) == ([named], [])  # a file named directly is kept: its error comes when decoding
    with pytest.raises(PredictError, match="is a folder, not an image file"):
        load_image(tmp_path / "empty", (4, 4, 3))


# --- decoding and conversion --------------------------------------------------


def _save(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode=mode).save(path)
    return path


def test_grayscale_for_rgb_and_rgb_for_grayscale_are_converted_with_a_note(onnx_models, no_tf_env, tmp_path):
    gray = _save(tmp_path / "gray.png", np.full((24, 24), 200, np.uint8))
    rgb = _save(tmp_path / "rgb.png", np.zeros((24, 24, 3), np.uint8) + np.uint8([255, 0, 0]))
    proc = _run(no_tf_env, "predict", str(onnx_models["rgb"]), str(gray))
    assert proc.returncode == 0, proc.stderr
    assert "converted grayscale (L) image to RGB" in proc.stderr
    proc = _run(no_tf_env, "predict", str(onnx_models["gray"]), str(rgb), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "converted RGB image to grayscale" in json.loads(proc.stdout)[0]["notes"][0]


def test_load_image_conversions(tmp_path):
    from cnnspec.deploy.predict import load_image

    rgb = load_image(_save(tmp_path / "g.png", np.full((4, 4), 7, np.uint8)), (4, 4, 3))
    assert rgb.pixels.shape == (4, 4, 3) and (rgb.pixels == 7).all()
    red = load_image(_save(tmp_path / "r.png", np.zeros((4, 4, 3), np.uint8) + np.uint8([255, 0, 0])), (4, 4, 1))
    assert red.pixels.shape == (4, 4, 1) and abs(float(red.pixels[0, 0, 0]) - 76) <= 1  # ITU-R 601 luma
    rgba = np.zeros((4, 4, 4), np.uint8) + np.uint8([10, 20, 30, 128])
    assert load_image(_save(tmp_path / "a.png", rgba, "RGBA"), (4, 4, 3)).pixels[0, 0].tolist() == [10, 20, 30]
    pal = Image.fromarray(np.zeros((4, 4, 3), np.uint8) + np.uint8([0, 0, 255])).convert("P")
    pal.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png", (4, 4, 3)).pixels[0, 0].tolist() == [0, 0, 255]
    deep = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    deep.save(tmp_path / "d.png")
    assert float(load_image(tmp_path / "d.png", (4, 4, 1)).pixels.max()) == 255.0
    big = load_image(_save(tmp_path / "big.jpg", np.full((40, 30, 3), 90, np.uint8)), (8, 6, 3))
    assert big.pixels.shape == (8, 6, 3) and big.pixels.dtype == np.float32
    assert big.notes == ["resized from 40x30 to 8x6"]


# --- bad input: one clear line, exit 1, no traceback -----------------------------


def _bad(proc: subprocess.CompletedProcess, *needles: str, code: int = 1) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "error:" in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_undecodable_and_missing_images(onnx_models, no_tf_env, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    good = data_images("rgb")[0]
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    proc = _run(no_tf_env, "predict", str(onnx_models["rgb"]), str(good), str(text), str(truncated))
    _bad(proc, "cannot decode", "notes.png", "cut.png")
    # a missing file is a usage error (exit 2), like a missing file in every command
    _bad(_run(no_tf_env, "predict", str(onnx_models["rgb"]), str(tmp_path / "nope.jpg")), "no such image", code=2)
    assert _blocked(no_tf_env) == []


def test_corrupt_and_foreign_models(onnx_models, no_tf_env, tmp_path):
    import onnx

    image = str(data_images("rgb")[0])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(os.urandom(300))
    _bad(_run(no_tf_env, "predict", str(junk), image), "junk.onnx", "not a valid ONNX model")
    proto = onnx.load(str(onnx_models["rgb"]))
    del proto.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(proto, str(plain))
    _bad(_run(no_tf_env, "predict", str(plain), image), "no cnnspec metadata")
    other = tmp_path / "model.pt"
    other.write_bytes(b"\x80\x02")
    _bad(_run(no_tf_env, "predict", str(other), image), "expected an .onnx file")
    assert _blocked(no_tf_env) == []


def test_run_dir_problems_are_clear(tmp_path):
    from typer.testing import CliRunner

    from cnnspec.cli import app

    (tmp_path / "run").mkdir()
    (tmp_path / "x.png").write_bytes(b"")  # there: the run directory is what is wrong
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "run"), str(tmp_path / "x.png")])
    assert res.exit_code == 1 and "not a cnnspec run directory" in res.output
    assert "Traceback" not in res.output
