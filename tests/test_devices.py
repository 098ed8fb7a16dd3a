"""cnnspec.run.devices: the start-up hint when the driver sees a GPU the backend does not.

The driver side is faked (a file tree, a probe that says yes); the backends are asked
for real.  On this CPU machine no backend sees a GPU, so a driver that does gives the
hint, naming what to install.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.run.devices import backend_sees_gpu, driver_sees_gpu, gpu_hint


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def test_driver_probe_reads_proc_and_dev(tmp_path: Path) -> None:
    assert not driver_sees_gpu(tmp_path, smi=None)
    gpus = tmp_path / "proc/driver/nvidia/gpus"
    gpus.mkdir(parents=True)
    assert not driver_sees_gpu(tmp_path, smi=None)  # the driver loaded, no GPU
    (gpus / "0000:01:00.0").mkdir()
    assert driver_sees_gpu(tmp_path, smi=None)
    other = tmp_path / "other"
    (other / "dev").mkdir(parents=True)
    (other / "dev/nvidia0").touch()
    assert driver_sees_gpu(other, smi=None)


def test_driver_probe_asks_nvidia_smi_last(tmp_path: Path) -> None:
    fake = tmp_path / "bin/nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H200 (UUID: GPU-0)'\n")
    fake.chmod(0o755)
    assert driver_sees_gpu(tmp_path, smi=str(fake))
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed'; exit 9\n")
    assert not driver_sees_gpu(tmp_path, smi=str(fake))
    assert not driver_sees_gpu(tmp_path, smi=str(tmp_path / "absent"))


def test_no_gpu_at_the_driver_means_no_hint_and_no_backend_import() -> None:
    # Run in a fresh process: importing TensorFlow here would tell nothing.
    code = (
        "import sys; from cnnspec.run.devices import gpu_hint; "
        "print([gpu_hint(b, driver_probe=lambda: False) for b in ('tensorflow', 'jax', 'torch', 'numpy')], "
        "[m for m in ('tensorflow', 'jax', 'torch') if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[None, None, None, None] []"


@pytest.mark.parametrize(
    ("backend", "module", "fix"),
    [
        ("tensorflow", "tensorflow", "cnnspec[gpu]"),
        ("jax", "jax", "jax[cuda12]"),
        pytest.param("torch", "torch", "cnnspec[torch]", marks=pytest.mark.torch),
    ],
)
def test_hint_names_the_extra_when_the_backend_sees_no_gpu(backend: str, module: str, fix: str) -> None:
    if not _installed(module):
        pytest.skip(f"{module} is not installed")
    if backend_sees_gpu(backend):
        pytest.skip(f"{module} sees a GPU here: no hint to give")
    hint = gpu_hint(backend, driver_probe=lambda: True)
    assert hint is not None
    assert "visible to the NVIDIA driver" in hint
    assert fix in hint


def test_unknown_backend_never_hints() -> None:
    assert gpu_hint("numpy", driver_probe=lambda: True) is None
    assert backend_sees_gpu("numpy") is None
