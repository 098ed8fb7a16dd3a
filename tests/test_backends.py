"""Training on every Keras backend (issue 11): JAX next to TensorFlow, and JAX where TensorFlow
cannot be imported at all.

Keras takes its backend once per process, and this suite runs on TensorFlow, so JAX runs are
``cnnspec`` subprocesses.  Their environment blocks ``import tensorflow`` and ``import tf2onnx``
(a ``sitecustomize`` meta-path finder that raises ImportError): a JAX user without TensorFlow
installed can train, resume, evaluate and predict.  Their run directories are then read here,
on TensorFlow: the ``.keras`` files are the backends' common format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_train import DIGITS, assert_valid_run

ROOT = Path(__file__).resolve().parents[1]
#: Augmented (its layers run in the input pipeline while training) and with dropout.
SPEC = "I: 8x8x1 A: flip rot.05 C: 16 32 D: 32R d¼ O: 10"

BLOCKER = '''
import sys

class _NoTensorFlow:
    """As if TensorFlow and tf2onnx were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf2onnx", "tensorboard", "tf_keras"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoTensorFlow())
'''


def _env(tmp: Path, backend: str | None = None) -> dict[str, str]:
    blocker = tmp / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(blocker), str(ROOT)]), OMP_NUM_THREADS="1", COLUMNS="120")
    if backend:
        env["KERAS_BACKEND"] = backend
    return env


def cnnspec(tmp: Path, *args: str, backend: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "cnnspec", *args], env=_env(tmp, backend), capture_output=True, text=True, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Under JAX without TensorFlow: ``full`` trained 3 epochs at once, ``part`` 2 epochs and then
    resumed to 3 (the run's own backend, read from run.json: no --backend, no KERAS_BACKEND)."""
    tmp = tmp_path_factory.mktemp("jax")
    runs = {"full": tmp / "full", "part": tmp / "part"}
    cnnspec(tmp, "train", "--spec", SPEC, "--data", str(DIGITS), "--epochs", "3", "--out", str(runs["full"]),
            "--backend", "jax", "-q")  # fmt: skip
    cnnspec(tmp, "train", "--spec", SPEC, "--data", str(DIGITS), "--epochs", "2", "--out", str(runs["part"]),
            "-q", backend="jax")  # fmt: skip
    cnnspec(tmp, "train", "--resume", str(runs["part"]), "--epochs", "3", "-q")
    runs["tmp"] = tmp
    return runs


@pytest.mark.slow
def test_jax_without_tensorflow_trains_a_valid_run_above_chance(jax_runs: dict[str, Path], keras: object) -> None:
    run = json.loads((jax_runs["full"] / "run.json").read_text())
    assert run["backend"] == "jax" and "jax" in run["versions"] and "tensorflow" not in run["versions"]
    metrics = assert_valid_run(jax_runs["full"], 3)
    assert metrics["best"]["val_accuracy"] > 0.5  # chance is 0.1
    # The saved model keeps its augmentation, which trained in the input pipeline.
    import keras as k

    names = [layer.name for layer in k.saving.load_model(jax_runs["full"] / "model.keras").layers]
    assert names[1:3] == ["aug_flip", "aug_rot"]


@pytest.mark.slow
def test_the_same_spec_trains_above_chance_on_tensorflow(tmp_path: Path, keras: object) -> None:
    from cnnspec.run.train import TrainOptions, train

    result = train(SPEC, DIGITS, TrainOptions(epochs=3), out_dir=tmp_path / "tf", progress="quiet")
    metrics = assert_valid_run(tmp_path / "tf", 3)
    assert metrics["best"]["val_accuracy"] > 0.5
    assert json.loads((tmp_path / "tf" / "run.json").read_text())["backend"] == "tensorflow"
    assert result.status == "completed"


@pytest.mark.slow
def test_a_resumed_jax_run_is_bit_exact(jax_runs: dict[str, Path], keras: object) -> None:
    import keras as k

    def rows(run: Path) -> list[list[str]]:  # every column but the timings
        lines = (run / "history.csv").read_text().splitlines()
        return [line.split(",")[:5] for line in lines]

    assert rows(jax_runs["part"]) == rows(jax_runs["full"])
    full = k.saving.load_model(jax_runs["full"] / "checkpoint.keras")
    part = k.saving.load_model(jax_runs["part"] / "checkpoint.keras")
    for a, b in zip(full.weights, part.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    a_vars, b_vars = full.optimizer.variables, part.optimizer.variables
    for a, b in zip(a_vars, b_vars, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_a_jax_run_evaluates_and_predicts_without_tensorflow(jax_runs: dict[str, Path]) -> None:
    tmp, run = jax_runs["tmp"], jax_runs["full"]
    ev = json.loads(cnnspec(tmp, "evaluate", str(run), "--data", str(DIGITS), "--json", "--no-save").stdout)
    assert ev["images"] == 1797 and ev["accuracy"] > 0.5
    image = sorted((DIGITS / "3").iterdir())[0]
    top = json.loads(cnnspec(tmp, "predict", str(run), str(image), "--json").stdout)
    assert len(top) == 1 and top[0]["predictions"][0]["probability"] > 0


@pytest.mark.slow
def test_a_jax_run_exports_to_onnx_with_parity(jax_runs: dict[str, Path], tmp_path: Path, keras: object) -> None:
    """tf2onnx converts the JAX run's model (loaded on TensorFlow); ONNX Runtime's outputs equal
    Keras' on JAX itself, the backend that trained it, within 1e-5."""
    import onnxruntime as ort

    from cnnspec.deploy.export import export

    run = jax_runs["full"]
    batch = np.random.default_rng(0).integers(0, 256, size=(16, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "batch.npy", batch)
    code = (
        "import keras, numpy as np; m = keras.saving.load_model(r'{run}/model.keras'); "
        "np.save(r'{out}', np.asarray(m(np.load(r'{inp}'), training=False)))"
    ).format(run=run, out=tmp_path / "jax.npy", inp=tmp_path / "batch.npy")
    subprocess.run([sys.executable, "-c", code], env=_env(jax_runs["tmp"], "jax"), check=True, timeout=300)
    report = export(run, tmp_path / "model.onnx")
    assert report.parity_ok and report.max_abs_diff is not None and report.max_abs_diff <= 1e-5
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": batch})[0]
    np.testing.assert_allclose(got, np.load(tmp_path / "jax.npy"), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_resuming_on_another_backend_is_refused(jax_runs: dict[str, Path], keras: object) -> None:
    from cnnspec.run.options import TrainError
    from cnnspec.run.train import resume

    run = jax_runs["full"]
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    with pytest.raises(TrainError, match="trained on the jax backend; Keras runs on tensorflow") as info:
        resume(run, epochs=4, progress="quiet")
    assert "--backend jax" in (info.value.hint or "")
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # nothing written, no lock left
    # The CLI with an explicit other backend says the same, exit 1.
    proc = cnnspec(jax_runs["tmp"], "train", "--resume", str(run), "--epochs", "4", "--backend", "tensorflow",
                   check=False)  # fmt: skip
    assert proc.returncode == 1 and "trained on the jax backend, not tensorflow" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_distribute_on_jax_is_refused_before_anything_is_created(jax_runs: dict[str, Path]) -> None:
    out = jax_runs["tmp"] / "mirrored"
    proc = cnnspec(jax_runs["tmp"], "train", "--spec", SPEC, "--data", str(DIGITS), "--out", str(out),
                   "--distribute", "mirrored", "--backend", "jax", check=False)  # fmt: skip
    assert proc.returncode == 1 and "needs the TensorFlow backend; Keras runs on jax" in proc.stderr
    assert not out.exists()


# PyTorch: .ci/run installs its CPU build after the main run and runs the tests marked torch.
# PyTorch itself asks find_spec("tensorflow") while it loads, so the meta-path blocker above would
# break it: here TensorFlow is a stand-in package whose import fails, as if it were not installed.
def _torch_env(tmp: Path) -> dict[str, str]:
    stand_in = tmp / "no_tensorflow"
    for name in ("tensorflow", "tf2onnx"):
        (stand_in / name).mkdir(parents=True, exist_ok=True)
        (stand_in / name / "__init__.py").write_text(f"raise ImportError('No module named {name} (the test)')\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(stand_in), str(ROOT)]), OMP_NUM_THREADS="1", COLUMNS="120")
    return env


@pytest.mark.slow
@pytest.mark.torch
def test_torch_without_tensorflow_trains_resumes_and_evaluates(tmp_path: Path) -> None:
    pytest.importorskip("torch")

    def run_cli(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "cnnspec", *args], env=_torch_env(tmp_path),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "oneDNN" not in proc.stderr
        return proc

    full, part = tmp_path / "full", tmp_path / "part"
    run_cli("train", "--spec", SPEC, "--data", str(DIGITS), "--epochs", "3", "--out", str(full), "--backend", "torch")
    run_cli("train", "--spec", SPEC, "--data", str(DIGITS), "--epochs", "2", "--out", str(part), "--backend", "torch")
    run_cli("train", "--resume", str(part), "--epochs", "3", "-q")  # on the run's own backend, from run.json
    record = json.loads((full / "run.json").read_text())
    assert record["backend"] == "torch" and "torch" in record["versions"] and "tensorflow" not in record["versions"]
    assert json.loads((part / "run.json").read_text())["backend"] == "torch"
    metrics = assert_valid_run(full, 3)
    assert metrics["best"]["val_accuracy"] > 0.5  # chance is 0.1
    assert_valid_run(part, 3)

    # Resumed on the same backend and machine, the history is the uninterrupted run's, bit for bit.
    def rows(run: Path) -> list[list[str]]:  # every column but the timings
        return [line.split(",")[:5] for line in (run / "history.csv").read_text().splitlines()]

    assert rows(part) == rows(full)
    ev = json.loads(run_cli("evaluate", str(full), "--data", str(DIGITS), "--json", "--no-save").stdout)
    assert ev["images"] == 1797 and ev["accuracy"] > 0.5
