"""ONNX export of real trained models: every layer kind, parity on real images, atomic writes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from export_support import SPECS, data_images, trained_run


def _cli(*args: str):
    from typer.testing import CliRunner

    from cnnspec.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def exported(keras, tmp_path_factory):
    """Every SPECS model, trained and exported once: key -> (run dir, onnx path, report)."""
    from cnnspec.deploy.export import export

    out = {}
    for key in SPECS:
        run = trained_run(key)
        path = tmp_path_factory.mktemp(f"onnx-{key}") / "model.onnx"
        out[key] = (run, path, export(run, path))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("key", list(SPECS))
def test_trained_models_export_with_parity_on_real_images(exported, key):
    from cnnspec.deploy.export import DEFAULT_TOLERANCE

    _, path, report = exported[key]
    assert path.is_file()
    assert report.max_abs_diff is not None and report.max_abs_diff <= DEFAULT_TOLERANCE
    assert "images of" in report.sample and "random" not in report.sample  # the run's own data
    assert report.classes_agree == report.sample_size == 16
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)


@pytest.mark.slow
@pytest.mark.parametrize("key", list(SPECS))
def test_predicted_classes_equal_keras_on_every_image(exported, keras, key):
    from cnnspec.deploy.predict import load_images

    run, path, _ = exported[key]
    model = keras.saving.load_model(run / "model.keras")
    shape = tuple(model.inputs[0].shape[1:])
    batch = np.stack([i.pixels for i in load_images(data_images(key), shape)])
    want = np.asarray(model(batch, training=False))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": batch})[0]
    assert np.abs(got - want).max() <= 1e-5
    if want.shape[1] == 1:
        assert ((got > 0.5) == (want > 0.5)).all()
    else:
        assert (got.argmax(1) == want.argmax(1)).all()


def test_metadata_carries_the_provenance(exported):
    import cnnspec

    run, path, report = exported["implied"]
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    run_json = json.loads((run / "run.json").read_text(encoding="utf-8"))
    # The run's spec had no I: and no O:; the stored one stands alone.
    assert meta["cnnspec.spec"] == "I: 20x20x3 C: 16n 16n p d¼ 32n 32n p d¼ D: 16R O: 4"
    assert cnnspec.check(cnnspec.parse(meta["cnnspec.spec"])).ok
    assert json.loads(meta["cnnspec.class_names"]) == run_json["class_names"]
    assert json.loads(meta["cnnspec.input_shape"]) == [20, 20, 3]
    assert meta["cnnspec.input_layout"] == "NHWC"
    assert meta["cnnspec.input_range"] == "0-255"
    assert meta["cnnspec.head_activation"] == "softmax"
    assert meta["cnnspec.version"] == cnnspec.__version__
    assert meta == report.metadata


def test_heads_and_canonical_specs_are_recorded(exported):
    heads = {key: rep.metadata["cnnspec.head_activation"] for key, (_, _, rep) in exported.items()}
    assert heads == {"rgb": "softmax", "gray": "sigmoid", "logits": "linear", "implied": "softmax"}
    spec = exported["rgb"][2].metadata["cnnspec.spec"]
    assert spec.startswith("I: 24x24x3 A: hvflip rot.1 zoom.15 shift.1 contrast.1 bright.2 C: 8Gn 8W")


def test_dynamic_batch_and_raw_pixel_input(exported):
    _, path, _ = exported["gray"]
    proto = onnx.load(str(path))
    (inp,) = proto.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "image"
    assert not dims[0].HasField("dim_value")  # any batch size
    assert [d.dim_value for d in dims[1:]] == [24, 24, 1]
    assert proto.graph.output[0].name == "probabilities"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        assert session.run(None, {"image": np.full((n, 24, 24, 1), 255.0, np.float32)})[0].shape == (n, 1)


def test_failed_parity_leaves_no_file(exported, tmp_path):
    from cnnspec.deploy.export import ExportError, export

    run, _, _ = exported["gray"]
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(ExportError, match="differ by up to"):
        export(run, target, tolerance=-1.0)  # no difference is below -1: the check must fail
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary file left


def test_allow_mismatch_writes_with_a_note(exported, tmp_path):
    from cnnspec.deploy.export import export

    run, _, _ = exported["gray"]
    report = export(run, tmp_path / "m.onnx", tolerance=-1.0, strict=False)
    assert (tmp_path / "m.onnx").is_file()
    assert any("written anyway" in n for n in report.notes)


def test_lone_keras_file_uses_random_images_and_index_names(exported, tmp_path):
    import shutil

    from cnnspec.deploy.export import export

    run, _, _ = exported["logits"]
    shutil.copy(run / "model.keras", tmp_path / "m.keras")
    report = export(tmp_path / "m.keras", tmp_path / "m.onnx")
    assert "random" in report.sample
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-5
    assert json.loads(report.metadata["cnnspec.class_names"]) == [str(i) for i in range(10)]
    assert report.metadata["cnnspec.spec"] == "I: 18x18x3 A: vflip C: 8 ap3 d⅕ 8k5I 8s2 D: d⅓ 12R O: 10I"


def test_cli_export_opset_and_check_reads_the_spec_back(exported, tmp_path):
    run, _, _ = exported["gray"]
    target = tmp_path / "g.onnx"
    res = _cli("export", str(run), "-o", str(target), "--opset", "13")
    assert res.exit_code == 0, res.output
    assert "parity: max |keras - onnx| = " in res.output
    assert onnx.load(str(target)).opset_import[0].version == 13
    res = _cli("check", str(target), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["valid"] and data["input_shape"] == [24, 24, 1] and data["classes"] == 1
    res = _cli("check", str(target))
    assert res.exit_code == 0 and "I: 24x24x1 A: flip C: 8L2=0.001 8 p3 d⅒ 16k5 gmp D: 8T O: 1" in res.output


def test_cli_export_default_output_is_in_the_run_dir(exported, tmp_path):
    import shutil

    run, _, _ = exported["gray"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    res = _cli("export", str(copy))
    assert res.exit_code == 0, res.output
    assert (copy / "model.onnx").is_file()


# --- bad input: a clear message, exit 1 (2 for usage), no traceback --------------------------


def _bad(res, code: int, *needles: str) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit) or res.exception is None
    for needle in needles:
        assert needle in res.output, res.output


def test_corrupt_keras_file(tmp_path, keras):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 this is no zip archive")
    _bad(_cli("export", str(bad), "-o", str(tmp_path / "x.onnx")), 1, "cannot load", "not a readable Keras model")
    assert not (tmp_path / "x.onnx").exists()


def test_non_cnnspec_keras_model(tmp_path, keras):
    from keras import layers

    inp = keras.Input((16, 16, 3))
    x = layers.Conv2D(4, 3, dilation_rate=2, name="dilated")(inp)
    x = layers.Flatten()(x)
    model = keras.Model(inp, layers.Dense(2, activation="softmax")(x))
    model.save(tmp_path / "other.keras")
    _bad(
        _cli("export", str(tmp_path / "other.keras"), "-o", str(tmp_path / "x.onnx")),
        1,
        "is not a cnnspec model",
        "dilated",
    )


def test_run_dir_without_run_json_or_with_a_wrong_one(exported, tmp_path):
    import shutil

    run, _, _ = exported["gray"]
    (tmp_path / "empty").mkdir()
    _bad(_cli("export", str(tmp_path / "empty")), 1, "not a cnnspec run directory")
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    meta = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    meta["canonical"] = "I: 24x24x1 C: 8 D: 8T O: 1"
    (copy / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    _bad(_cli("export", str(copy)), 1, "run.json does not describe this model")
    (copy / "run.json").write_text("{not json", encoding="utf-8")
    _bad(_cli("export", str(copy)), 1, "not a cnnspec run.json")


def test_usage_errors():
    _bad(_cli("export", "/no/such/run"), 2, "no such model")
    _bad(_cli("export", ".", "--opset", "9"), 2, "--opset 9")


def test_check_onnx_without_metadata_or_corrupt(exported, tmp_path):
    _, path, _ = exported["gray"]
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(proto, str(plain))
    _bad(_cli("check", str(plain)), 1, "no cnnspec metadata")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\xfe\x00garbage" * 10)
    _bad(_cli("check", str(junk)), 1, "junk.onnx")


def test_check_onnx_in_a_subprocess_prints_no_traceback(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(bytes(range(256)))
    proc = subprocess.run([sys.executable, "-m", "cnnspec", "check", str(junk)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "junk.onnx" in proc.stderr


@pytest.mark.slow
def test_export_a_run_of_cnnspec_train(keras, tmp_path):
    """The whole path: ``cnnspec.run.train.train`` writes the run directory, export reads it."""
    from export_support import make_images

    import cnnspec.run.train as train_mod
    from cnnspec.deploy.export import export

    data = make_images(tmp_path / "data", 3, (16, 16, 3), per_class=8)
    result = train_mod.train(
        "A: flip C: 8n 8 D: 8R",
        data,
        train_mod.TrainOptions(epochs=1, batch_size=8, out=str(tmp_path / "run")),
        out_dir=tmp_path / "run",
        progress="quiet",
    )
    report = export(Path(result.run_dir), tmp_path / "model.onnx")
    assert "random" not in report.sample
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-5
    assert report.metadata["cnnspec.spec"] == "I: 16x16x3 A: flip C: 8n 8 p D: 8R O: 3"


# --- docs/export.md and the --help texts ------------------------------------------------------


@pytest.mark.parametrize("name", ["export", "predict", "from-keras"])
def test_docs_and_help_name_every_option_and_render_it_whole(name):
    """Every argument and option (long and short), its help text and its default are in docs/export.md's
    section for the command, and `--help` shows each help text whole (no markup eating brackets)."""
    import typer.main
    from typer.testing import CliRunner

    from cnnspec.cli import app

    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    doc = (Path(__file__).parents[1] / "docs" / "export.md").read_text(encoding="utf-8")
    section = doc.split(f"## `cnnspec {name} ", 1)[1].split("\n## ", 1)[0]
    table = {row.split(" | ")[0].strip("| "): row for row in section.splitlines() if row.startswith("| `")}
    # Wide enough that nothing wraps: a help text must then appear exactly, without lost or doubled spaces.
    shown = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"}).output
    assert (command.help or "").strip() in shown
    for param in command.params:
        if param.name == "help":
            continue
        if param.param_type_name == "argument":
            key = f"`{param.name.upper()}{'...' if param.nargs == -1 else ''}`"
        else:
            key = ", ".join(f"`{opt}`" for opt in param.opts)
        assert key in table, f"docs/export.md: no row {key} under cnnspec {name}"
        assert f"| {param.help} |" in table[key], table[key]
        if param.default not in (None, False):
            assert f"`{param.default}`" in table[key], table[key]
        assert param.help in shown, f"--help of {name} does not show {param.help!r} whole"
        for opt in param.opts if param.param_type_name == "option" else ():
            assert opt in shown


@pytest.mark.slow
@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_a_run_not_completed_is_exported_with_a_note(exported, tmp_path, status):
    """model.keras of a run that has not completed is only its best epoch so far: exported, with a note."""
    import shutil

    run = shutil.copytree(exported[next(iter(SPECS))][0], tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": status}))
    (run / "metrics.json").write_text(json.dumps({"best": {"val_accuracy": 0.5, "val_accuracy_epoch": 2}}))
    res = _cli("export", str(run), "-o", str(tmp_path / "m.onnx"))
    assert res.exit_code == 0, res.output
    said = "still running: exporting the best epoch so far" if status == "running" else f"{status}: exporting the best"
    assert f"note: run {said}" in res.stderr and "(epoch 2)" in res.stderr
    assert (tmp_path / "m.onnx").is_file()
