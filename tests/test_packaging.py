"""pyproject.toml's extras install the right TensorFlow (or none), and CI's `dev` trains on two backends.

Each extra is expanded through its ``cnnspec[...]`` references to the set of
distributions it installs (on Linux x86-64, the markers evaluated there), and
the set is held against what issue 11 asks: ``gpu`` never pulls
``tensorflow-cpu`` (the last TensorFlow installed silently wins), ``train``
never pulls the CUDA build, ``dev`` has JAX's CPU build but no PyTorch (PyPI's
Linux torch is a CUDA build of several GB; CI installs the CPU one itself).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the extras are the same, read on 3.11+
    pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)", allow_module_level=True)

ROOT = Path(__file__).parents[1]
LINUX_X86 = {"platform_machine": "x86_64", "sys_platform": "linux", "platform_system": "Linux"}
EXTRAS: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def closure(extra: str, env: dict[str, str] = LINUX_X86) -> dict[str, Requirement]:
    """The distributions (name -> requirement) that ``pip install cnnspec[extra]`` asks for directly."""
    out: dict[str, Requirement] = {}
    todo, seen = [extra], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in EXTRAS[name]:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            if req.name == "cnnspec":
                todo.extend(req.extras)
            else:
                out[req.name] = req
    return out


def test_gpu_is_the_cuda_tensorflow_and_never_the_cpu_one() -> None:
    gpu = closure("gpu")
    assert "tensorflow-cpu" not in gpu
    assert gpu["tensorflow"].extras == {"and-cuda"}
    assert "keras" in gpu


def test_train_is_the_cpu_tensorflow() -> None:
    train = closure("train")
    assert "tensorflow-cpu" in train and "tensorflow" not in train
    arm = closure("train", {**LINUX_X86, "platform_machine": "aarch64"})
    assert "tensorflow-cpu" not in arm and arm["tensorflow"].extras == set()


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_no_extra_installs_two_tensorflows(extra: str) -> None:
    names = closure(extra)
    assert not ("tensorflow-cpu" in names and "tensorflow" in names), extra


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_jax_and_torch_extras_bring_keras_and_no_tensorflow(backend: str) -> None:
    names = closure(backend)
    assert backend in names and "keras" in names
    assert not {"tensorflow", "tensorflow-cpu"} & set(names)


def test_every_backend_extra_shares_the_keras_list() -> None:
    shared = set(closure("keras"))
    for extra in ("train", "gpu", "jax", "torch"):
        assert shared <= set(closure(extra)), extra


def test_dev_trains_on_tensorflow_and_jax_but_installs_no_torch() -> None:
    dev = closure("dev")
    assert {"tensorflow-cpu", "jax", "keras"} <= set(dev)
    assert "torch" not in dev
    assert "tensorflow" not in dev


def test_ci_runs_the_torch_tests_with_the_cpu_build_on_disk() -> None:
    ci = (ROOT / ".ci/run").read_text()
    assert "pip install torch==2.13.0" in ci
    assert "CNNSPEC_TEST_BACKENDS=torch" in ci and "-m torch" in ci


# What `cnnspec[jax]` / `cnnspec[torch]` install is enough to build and train a spec's
# model: a fresh process on that backend, with `import tensorflow` made to fail by a
# package of that name first on the path (a meta-path blocker or `sys.modules["tensorflow"]
# = None` would also fail the checks that Keras and PyTorch make for TensorFlow's presence).
_TRAIN_WITHOUT_TF = r"""
import sys
from pathlib import Path
import numpy as np
from PIL import Image
import keras
import cnnspec
files = sorted(Path(sys.argv[1]).glob("*/*.png"))
x = np.stack([np.asarray(Image.open(f))[..., None] for f in files]).astype("float32")
y = np.array([int(f.parent.name) for f in files])
order = np.random.default_rng(0).permutation(len(y))  # validation_split takes the last 20 %
x, y = x[order], y[order]
keras.utils.set_random_seed(0)
model = cnnspec.build(cnnspec.parse("I: 8x8x1 C: 16 32 D: 32R O: 10"), seed=0)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
hist = model.fit(x, y, batch_size=64, epochs=4, validation_split=0.2, shuffle=True, verbose=0)
print(keras.backend.backend(), "tensorflow" in sys.modules, max(hist.history["val_accuracy"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", pytest.param("torch", marks=pytest.mark.torch)])
def test_a_spec_trains_on_the_backend_without_tensorflow(backend: str, tmp_path: Path) -> None:
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    blocker = tmp_path / "tensorflow/__init__.py"
    blocker.parent.mkdir()
    blocker.write_text('raise ImportError("tensorflow is blocked in this test")\n')
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    cmd = [sys.executable, "-c", _TRAIN_WITHOUT_TF, str(ROOT / "examples/data/digits")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    name, tf_loaded, accuracy = out.stdout.split()
    assert (name, tf_loaded) == (backend, "False")
    assert float(accuracy) > 0.5  # chance is 0.1
