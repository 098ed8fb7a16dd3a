"""Output paths that cannot be written, and input paths that do not exist.

Run as root, "unwritable" is a file where a folder should be (``net.svg``
then ``-o net.svg/x.onnx``).  Such an ``-o`` is a usage error (exit 2, one
line, no traceback) found before any work, and it creates nothing; a missing
input path is a usage error too, while a file that exists but is bad exits 1.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from export_support import ROOT
from golden_util import run_cli
from image_folders import make_folder

from cnnspec import atomic

TINY = "I: 8x8x1 C: 4 D: 4R O: 2"


@functools.cache
def tiny_keras() -> Path:
    """A lone, untrained ``.keras`` model of ``TINY``: enough for export."""
    import cnnspec

    path = ROOT / "output-paths" / "tiny.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    cnnspec.build(cnnspec.parse(TINY), seed=1).save(path)
    return path


def fake_run(root: Path) -> Path:
    """A folder that looks like a run but whose model is garbage: any work on it would fail."""
    run = root / "run"
    run.mkdir()
    (run / "run.json").write_text('{"class_names": ["a", "b"], "input_shape": [12, 12, 1]}', encoding="utf-8")
    (run / "model.keras").write_bytes(b"not a model")
    return run


def blocked(tmp_path: Path) -> Path:
    """``net.svg``: a file where the tests ask for a folder."""
    f = tmp_path / "net.svg"
    f.write_text("<svg/>", encoding="utf-8")
    return f


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def assert_clean_error(output: str, message: str) -> None:
    assert output.startswith("error: ") and message in output, output
    assert "Traceback" not in output and "evaluation failed" not in output, output


# --------------------------------------------------------------------------
# atomic: the check, and the error of a write that cannot happen


def test_check_writable_reasons(tmp_path: Path) -> None:
    net = blocked(tmp_path)
    with pytest.raises(atomic.WriteError) as err:
        atomic.check_writable(net / "deeper" / "x.onnx")
    assert str(err.value) == f"cannot write {net}/deeper/x.onnx: {net} is not a directory"
    assert err.value.strerror == f"{net} is not a directory" and isinstance(err.value, OSError)
    with pytest.raises(atomic.WriteError, match="it is a directory"):
        atomic.check_writable(tmp_path)
    atomic.check_writable(tmp_path / "new" / "folders" / "x.onnx")  # folders a write would create
    assert files(tmp_path) == {Path("net.svg")}  # the check created nothing


def test_atomic_write_raises_write_error(tmp_path: Path) -> None:
    net = blocked(tmp_path)
    with pytest.raises(atomic.WriteError, match=r"x\.md: .*net\.svg is not a directory"):
        atomic.write_text(net / "x.md", "text")
    (tmp_path / "dir" / "x.md").mkdir(parents=True)  # a folder where the file goes: the rename fails
    with pytest.raises(atomic.WriteError, match=r"cannot write .*x\.md: "):
        atomic.write_text(tmp_path / "dir" / "x.md", "text")
    assert net.read_text(encoding="utf-8") == "<svg/>"
    assert files(tmp_path) == {Path("net.svg"), Path("dir"), Path("dir/x.md")}  # no temporary file left


# --------------------------------------------------------------------------
# 1-3: a bad -o is exit 2, found before the work, and creates nothing


def test_export_bad_output_before_converting(tmp_path: Path) -> None:
    net = blocked(tmp_path)
    garbage = tmp_path / "broken.keras"
    garbage.write_bytes(b"not a model")  # converting it would fail with exit 1
    for model in (tiny_keras(), garbage):
        run = run_cli(["export", str(model), "-o", f"{net}/x.onnx"])
        assert run.exit_code == 2, run.output
        assert_clean_error(run.output, f"cannot write {net}/x.onnx: {net} is not a directory")
    assert files(tmp_path) == {Path("net.svg"), Path("broken.keras")}


def test_export_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "tiny.onnx"
    run = run_cli(["export", str(tiny_keras()), "-o", str(target)])
    assert run.exit_code == 0, run.output
    assert target.is_file() and files(tmp_path) == {Path("new"), Path("new/folder"), Path("new/folder/tiny.onnx")}


@pytest.mark.parametrize("name", ["r.md", "r.html"])
def test_report_bad_output(tmp_path: Path, name: str) -> None:
    net = blocked(tmp_path)
    run_dir = fake_run(tmp_path)
    before = files(tmp_path)
    run = run_cli(["report", str(run_dir), "-o", f"{net}/{name}"])
    assert run.exit_code == 2, run.output
    assert_clean_error(run.output, f"cannot write {net}/{name}: {net} is not a directory")
    assert files(tmp_path) == before


def test_report_networks_folder_blocked(tmp_path: Path) -> None:
    (tmp_path / "r-networks").write_text("a file", encoding="utf-8")
    run = run_cli(["report", str(fake_run(tmp_path)), "-o", str(tmp_path / "r.md")])
    assert run.exit_code == 2, run.output
    assert_clean_error(run.output, "cannot write")
    assert "r-networks is not a directory" in run.output and not (tmp_path / "r.md").exists()


def test_evaluate_bad_output_before_evaluating(tmp_path: Path) -> None:
    net = blocked(tmp_path)
    run_dir = fake_run(tmp_path)  # its garbage model would be "evaluation failed", exit 1
    data = make_folder(tmp_path / "test", {"a": 1, "b": 1})
    before = files(tmp_path)
    run = run_cli(["evaluate", str(run_dir), "--data", str(data), "-o", f"{net}/c.png"])
    assert run.exit_code == 2, run.output
    assert_clean_error(run.output, f"cannot write {net}/c.png: {net} is not a directory")
    assert files(tmp_path) == before


def test_draw_bad_output(tmp_path: Path) -> None:
    net = blocked(tmp_path)
    run = run_cli(["draw", "--spec", TINY, "-o", f"{net}/x.svg"])
    assert run.exit_code == 2, run.output
    assert_clean_error(run.output, f"cannot write {net}/x.svg: {net} is not a directory")


# --------------------------------------------------------------------------
# 4: from-keras of a file that is not a Keras model; messages not cut mid-word


def test_from_keras_onnx_file(tmp_path: Path) -> None:
    onnx = tmp_path / "digits.onnx"
    onnx.write_bytes(b"\x08\x07")
    run = run_cli(["from-keras", str(onnx)])
    assert run.exit_code == 1, run.output
    assert_clean_error(run.output, f"{onnx} is not a .keras file: from-keras reads .keras files or run directories")
    assert f"cnnspec check {onnx}" in run.output


def test_from_keras_unreadable_message_is_whole(tmp_path: Path) -> None:
    import zipfile

    import keras

    # A zip that is no Keras model: Keras' own message, in full.  (A file that is no zip at all
    # got Keras' "File not found" for a file that exists; cnnspec says what is wrong instead.)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("config.json", "not json")
    try:
        keras.saving.load_model(bad, compile=False)
    except Exception as exc:  # what Keras says, in full
        first = str(exc).strip().splitlines()[0]
    run = run_cli(["from-keras", str(bad)])
    assert run.exit_code == 1, run.output
    assert_clean_error(run.output, f"cannot load {bad}: not a readable Keras model ({first})")


def test_from_keras_folder_without_model(tmp_path: Path) -> None:
    run = run_cli(["from-keras", str(tmp_path)])
    assert run.exit_code == 1, run.output
    assert_clean_error(run.output, f"{tmp_path} has no model.keras")


# --------------------------------------------------------------------------
# 5: a missing input path is a usage error (2); one that exists but is bad, 1


def test_missing_inputs_exit_2(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not onnx")
    data = make_folder(tmp_path / "test", {"a": 1, "b": 1})
    run_dir = fake_run(tmp_path)
    nope = tmp_path / "nope"
    cases = {
        ("check", f"{nope}.cnn"): "no such file",
        ("draw", f"{nope}.cnn"): "no such file",
        ("predict", str(onnx), f"{nope}.png"): f"no such image: {nope}.png",
        ("predict", f"{nope}.onnx", str(data)): f"no such model: {nope}.onnx",
        ("export", f"{nope}.keras"): "no such model",
        ("from-keras", f"{nope}.keras"): "no such model",
        ("evaluate", str(nope), "--data", str(data)): "no such run directory",
        ("evaluate", str(run_dir), "--data", str(nope)): "no such test folder",
        ("report", str(nope), "-o", str(tmp_path / "r.md")): "not a run directory",
    }
    for args, message in cases.items():
        run = run_cli(list(args))
        assert run.exit_code == 2, (args, run.output)
        assert_clean_error(run.output, message)


def test_bad_inputs_exit_1(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not onnx")
    bad_keras = tmp_path / "model.keras"
    bad_keras.write_bytes(b"not a model")
    data = make_folder(tmp_path / "test", {"a": 1, "b": 1})
    cases = {
        ("predict", str(onnx), str(data)): "not a valid ONNX model",
        ("export", str(bad_keras)): "not a readable Keras model",
        ("from-keras", str(bad_keras)): "not a readable Keras model",
    }
    for args, message in cases.items():
        run = run_cli(list(args))
        assert run.exit_code == 1, (args, run.output)
        assert_clean_error(run.output, message)
