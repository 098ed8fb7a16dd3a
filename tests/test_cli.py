"""The ``cnnspec`` command: check, fmt, schema; exit codes; JSON; no tracebacks.

Most tests run the CLI in-process (typer's CliRunner, plain output); a few
run it as a real subprocess, because that is how users meet it
(``python -m cnnspec``, the console script, the light import).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from golden_util import run_cli

import cnnspec

SEED26 = "I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"
BODY = "C: 16n 16n d¼ 32n 32n d¼ D: 16R"
MULTI = "a = I: 32x32x3 C: 16 32 D: 16R O: 10\nb = I: 28x28x1 C: 8\n    D: 8R O: 2\n"
ROOT = Path(__file__).resolve().parent.parent

LAYER_KINDS = {
    "Rescaling",
    "Conv2D",
    "BatchNormalization",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Dropout",
    "Flatten",
    "Dense",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
}


def _json(args: list[str], **kw: object) -> object:
    run = run_cli([*args, "--json"], **kw)  # type: ignore[arg-type]
    assert run.exit_code in (0, 1), run.output
    return json.loads(run.output)


# --------------------------------------------------------------------------
# check: sources


def test_check_spec_option() -> None:
    run = run_cli(["check", "--spec", SEED26])
    assert run.exit_code == 0
    assert "Total params: 49,994" in run.output
    assert "implied" in run.output
    assert "valid with 3 warnings" in run.output


def test_check_path(tmp_path: Path) -> None:
    (tmp_path / "m.cnn").write_text(SEED26 + "\n", encoding="utf-8")
    run = run_cli(["check", "m.cnn"], cwd=tmp_path)
    assert run.exit_code == 0
    assert "Total params: 49,994" in run.output


def test_check_stdin() -> None:
    run = run_cli(["check", "-"], stdin="C: 16 16q\n")
    assert run.exit_code == 1
    assert "<stdin>:1:9: error[E201]" in run.output
    run = run_cli(["check", "-"], stdin=SEED26)
    assert run.exit_code == 0


def test_check_input_and_classes_options() -> None:
    obj = _json(["check", "--spec", BODY, "--input", "32x32x3", "--classes", "10"])
    assert isinstance(obj, dict)
    assert obj["total_params"] == 49994
    assert obj["input_shape"] == [32, 32, 3]
    assert obj["output_shape"] == [10]
    assert obj["head_from_data"] is False


def test_check_without_head_says_it_comes_from_the_data() -> None:
    run = run_cli(["check", "--spec", BODY, "--input", "32x32x3"])
    assert run.exit_code == 0
    assert "will come from the data" in run.output
    obj = _json(["check", "--spec", BODY, "-i", "32x32x3"])
    assert isinstance(obj, dict)
    assert obj["head_from_data"] is True and obj["classes"] is None
    assert obj["layers"][-1]["name"] == "dense1"


def test_check_options_that_disagree_with_the_spec() -> None:
    run = run_cli(["check", "--spec", SEED26, "--input", "28x28x3", "--classes", "5"])
    assert run.exit_code == 1
    assert "error[E403]" in run.output and "error[E404]" in run.output
    assert "O: 10 disagrees with the 5 classes given" in run.output


def test_check_without_any_input_shape() -> None:
    run = run_cli(["check", "--spec", BODY])
    assert run.exit_code == 1
    assert "error[E400]" in run.output and "--input" in run.output


# --------------------------------------------------------------------------
# check: JSON


def test_json_single_spec_object() -> None:
    obj = _json(["check", "--spec", SEED26])
    assert isinstance(obj, dict)
    assert "name" not in obj
    assert obj["valid"] is True
    assert obj["total_params"] == 49994
    assert obj["trainable_params"] == 49802
    assert obj["non_trainable_params"] == 192
    assert obj["macs"] == 6373536
    assert obj["output_shape"] == [10]
    assert [w["code"] for w in obj["warnings"]] == ["W503", "W504", "W504"]
    assert obj["errors"] == []
    for layer in obj["layers"]:
        assert {"kind", "output_shape", "params", "macs", "implied"} <= set(layer)
        assert layer["kind"] in LAYER_KINDS
    kinds = [layer["kind"] for layer in obj["layers"]]
    assert kinds[:4] == ["Rescaling", "Conv2D", "BatchNormalization", "Conv2D"]
    pools = [layer for layer in obj["layers"] if layer["kind"] == "MaxPooling2D"]
    assert [p["implied"] for p in pools] == [True, True]
    assert sum(layer["params"] for layer in obj["layers"]) == obj["total_params"]
    assert sum(layer["macs"] for layer in obj["layers"]) == obj["macs"]
    warning = obj["warnings"][0]
    assert {"code", "message", "line", "column", "hint"} <= set(warning)


def test_json_every_layer_kind_is_a_keras_class_name() -> None:
    spec = "I: 64x64x3 A: flip vflip rot.1 zoom.1 shift.1 contrast.1 bright.1 C: 8n ap 16 p3 32 gmp D: 8 d.1 O: 2"
    obj = _json(["check", "--spec", spec])
    assert isinstance(obj, dict)
    kinds = {layer["kind"] for layer in obj["layers"]}
    assert kinds <= LAYER_KINDS
    assert {"RandomFlip", "RandomBrightness", "GlobalMaxPooling2D", "AveragePooling2D"} <= kinds


def test_json_multi_spec_file_is_a_list_with_names(tmp_path: Path) -> None:
    (tmp_path / "t.cnn").write_text(MULTI, encoding="utf-8")
    out = _json(["check", "t.cnn"], cwd=tmp_path)
    assert isinstance(out, list)
    assert [o["name"] for o in out] == ["a", "b"]
    assert out[1]["output_shape"] == [2]
    assert all(o["valid"] for o in out)


def test_json_invalid_spec_lists_errors_and_exits_1() -> None:
    run = run_cli(["check", "--spec", "C: 16 16q 0", "--json"])
    assert run.exit_code == 1
    obj = json.loads(run.output)
    assert obj["valid"] is False
    assert [e["code"] for e in obj["errors"]] == ["E201", "E110"]
    assert obj["errors"][0]["line"] == 1 and obj["errors"][0]["column"] == 9


def test_json_multi_spec_with_one_invalid(tmp_path: Path) -> None:
    (tmp_path / "t.cnn").write_text("ok = I: 8x8x1 C: 4 O: 2\nbad = I: 8x8x1 C: 4q O: 2\n", encoding="utf-8")
    run = run_cli(["check", "t.cnn", "--json"], cwd=tmp_path)
    assert run.exit_code == 1
    out = json.loads(run.output)
    assert [(o["name"], o["valid"]) for o in out] == [("ok", True), ("bad", False)]


# --------------------------------------------------------------------------
# check: exit codes


def test_strict_fails_on_warnings() -> None:
    spec = "I: 28x28x1 D: 16 16 O: 10"  # two linear dense layers: W502
    assert run_cli(["check", "--spec", spec]).exit_code == 0
    run = run_cli(["check", "--spec", spec, "--strict"])
    assert run.exit_code == 1
    assert "warning[W502]" in run.output
    quiet = "I: 8x8x1 C: 4 O: 2"
    assert run_cli(["check", "--spec", quiet, "--strict"]).exit_code == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["check", "missing.cnn"], "no such file: missing.cnn"),
        (["check"], "give a PATH"),
        (["check", "x.cnn", "--spec", "C: 16"], "either a PATH or --spec"),
        (["check", "--spec", "C: 16", "--input", "32x32"], "--input"),
        (["check", "--spec", "C: 16", "--input", "0x1x1"], "--input"),
        (["check", "--spec", "C: 16", "--classes", "0"], "--classes"),
        (["check", "--spec", "C: 16", "--bogus"], "--bogus"),
        (["fmt", "missing.cnn"], "no such file"),
        (["fmt", "--write", "-"], "--write needs a file PATH"),
        (["fmt", "--write", "--spec", "C: 16"], "--write needs a file PATH"),
    ],
)
def test_usage_errors_exit_2_without_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    run = run_cli(args, cwd=tmp_path, stdin="C: 16\n")
    assert run.exit_code == 2, run.output
    assert message in run.output
    assert "Traceback" not in run.output


def test_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.cnn").write_bytes(b"C: 16 d\xbc\n")
    run = run_cli(["check", "x.cnn"], cwd=tmp_path)
    assert run.exit_code == 2
    assert "not UTF-8" in run.output


def test_invalid_spec_exits_1_with_every_error() -> None:
    run = run_cli(["check", "--spec", "C: 16r 0 D: p"])
    assert run.exit_code == 1
    assert "invalid: 3 errors" in run.output
    assert "Traceback" not in run.output


# --------------------------------------------------------------------------
# fmt


def test_fmt_prints_canonical_form() -> None:
    run = run_cli(["fmt", "--spec", "C: 64 32 D: 16RL2=0.01 d0.25"])
    assert run.exit_code == 0
    assert run.output == "C: 64 p 32 p D: 16RL2 d¼\n"


def test_fmt_file_with_named_specs(tmp_path: Path) -> None:
    (tmp_path / "t.cnn").write_text(MULTI, encoding="utf-8")
    run = run_cli(["fmt", "t.cnn"], cwd=tmp_path)
    assert run.exit_code == 0
    assert run.output == "a = I: 32x32x3 C: 16 p 32 p D: 16R O: 10\nb = I: 28x28x1 C: 8 p D: 8R O: 2\n"


def test_fmt_check(tmp_path: Path) -> None:
    assert run_cli(["fmt", "--check", "--spec", "C: 64 p 32 p"]).exit_code == 0
    run = run_cli(["fmt", "--check", "--spec", "C: 64 32"])
    assert run.exit_code == 1
    assert "not in canonical form" in run.output


def test_fmt_invalid_spec_exits_1_with_carets() -> None:
    run = run_cli(["fmt", "--spec", "C: 16q"])
    assert run.exit_code == 1
    assert "error[E201]" in run.output and "     ^" in run.output


def test_fmt_write_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "m.cnn"
    target.write_text("C: 64 32\n", encoding="utf-8")
    os.chmod(target, 0o640)
    run = run_cli(["fmt", "--write", "m.cnn"], cwd=tmp_path)
    assert run.exit_code == 0 and run.output == ""
    assert target.read_text(encoding="utf-8") == "C: 64 p 32 p\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.cnn"]  # no temporary file left
    assert run_cli(["fmt", "--check", "m.cnn"], cwd=tmp_path).exit_code == 0


def test_fmt_write_leaves_an_invalid_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "bad.cnn"
    target.write_text("C: 64q\n", encoding="utf-8")
    run = run_cli(["fmt", "-w", "bad.cnn"], cwd=tmp_path)
    assert run.exit_code == 1
    assert target.read_text(encoding="utf-8") == "C: 64q\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cnn"]


# --------------------------------------------------------------------------
# schema and version


def test_schema_is_a_json_schema_of_the_ir() -> None:
    run = run_cli(["schema"])
    assert run.exit_code == 0
    schema = json.loads(run.output)
    assert schema["type"] == "object"
    assert "specs" in schema["properties"]
    assert {"Spec", "Conv", "Pool", "Dense", "Dropout", "Head", "InputShape", "Span"} <= set(schema["$defs"])
    # Every reference resolves, whether or not jsonschema is installed.
    refs = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert refs and all(ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs)
    import jsonschema  # a dev dependency: its absence must fail, not skip

    jsonschema.Draft202012Validator.check_schema(schema)
    parsed = cnnspec.parse_file(MULTI)
    jsonschema.validate(json.loads(parsed.model_dump_json()), schema)


def test_version() -> None:
    run = run_cli(["version"])
    assert run.exit_code == 0 and run.output.strip() == cnnspec.__version__


# --------------------------------------------------------------------------
# Real processes


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}


def test_python_dash_m_cnnspec() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cnnspec", "check", "--spec", SEED26, "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_params"] == 49994


def test_console_script_missing_file_has_no_traceback(tmp_path: Path) -> None:
    exe = shutil.which("cnnspec", path=str(Path(sys.executable).parent)) or shutil.which("cnnspec")
    assert exe is not None, "the cnnspec console script is not installed (pip install -e .)"
    proc = subprocess.run(
        [exe, "check", "nope.cnn"], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 2
    assert "no such file: nope.cnn" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_parse_and_check_import_neither_tensorflow_nor_keras() -> None:
    code = (
        "import sys, cnnspec\n"
        "c = cnnspec.check(cnnspec.parse('I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10'))\n"
        "cnnspec.format(c.spec); c.to_dict()\n"
        "import cnnspec.cli, cnnspec.network.sources, cnnspec.display.terminal\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf2onnx', 'onnxruntime', 'onnx', 'matplotlib'))\n"
        "print(c.total_params, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "49994 []"


def test_fmt_write_keeps_comments(tmp_path):
    """fmt --write rewrites specs canonically and loses no comment."""
    import subprocess
    import sys

    src = tmp_path / "table.cnn"
    src.write_text(
        "# the experiment table\n"
        "m1 = C: 16n 16n d0.25  # first row\n"
        "# second row below\n"
        "m2 = C: 64 32\n"
        "     D: 16R  # dense\n",
        encoding="utf-8",
    )
    run = subprocess.run([sys.executable, "-m", "cnnspec", "fmt", "--write", str(src)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert src.read_text(encoding="utf-8") == (
        "# the experiment table\n"
        "m1 = C: 16n 16n p d¼  # first row\n"
        "# second row below\n"
        "m2 = C: 64 p 32 p D: 16R  # dense\n"
    )
    again = subprocess.run(
        [sys.executable, "-m", "cnnspec", "fmt", "--check", str(src)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    src = tmp_path / "bom.cnn"
    src.write_bytes(b"\xef\xbb\xbfI: 8x8x1 C: 16")
    run = run_cli(["check", str(src), "--classes", "2"])
    assert run.exit_code == 0, run.output


def test_stdin_that_is_not_utf8_is_a_usage_error():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "cnnspec", "check", "-"], input=b"C: 16 \xff\xfe", capture_output=True)
    assert run.returncode == 2
    assert b"not UTF-8" in run.stderr and b"Traceback" not in run.stderr


def test_input_option_obeys_the_size_bound():
    from cnnspec.notation.ir import MAX_INPUT_DIM

    big = f"{MAX_INPUT_DIM + 1}x8x3"
    run = run_cli(["check", "--spec", "C: 16", "--input", big, "--json"])
    assert run.exit_code == 1
    assert [e["code"] for e in json.loads(run.output)["errors"]] == ["E163"]


def test_checking_a_keras_model_points_to_from_keras(tmp_path):
    import subprocess
    import sys

    model = tmp_path / "model.keras"
    model.write_bytes(b"PK\x03\x04\xff\xfe not a spec")
    run = subprocess.run([sys.executable, "-m", "cnnspec", "check", str(model)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "cnnspec from-keras" in run.stderr and "Traceback" not in run.stderr


def test_a_network_too_big_for_memory_is_warned():
    from cnnspec.network.advice import MEMORY_WARNING_BYTES
    from cnnspec.network.checker import BYTES_PER_VALUE

    # 32x32 maps of F filters: F * 1024 activation values each, so F is chosen
    # from the threshold itself, not from a copied number.
    filters = MEMORY_WARNING_BYTES // (BYTES_PER_VALUE * 32 * 32) + 1
    run = run_cli(["check", "--spec", f"C: {filters} p0", "--input", "32x32x3", "--json"])
    assert run.exit_code == 0
    assert "W506" in [w["code"] for w in json.loads(run.output)["warnings"]]
    small = run_cli(["check", "--spec", "C: 16 p0", "--input", "32x32x3", "--json"])
    assert "W506" not in [w["code"] for w in json.loads(small.output)["warnings"]]
