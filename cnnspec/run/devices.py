"""Is there a GPU that the backend does not see?  The start-up hint of ``cnnspec train``.

The common way to train on the CPU by mistake is a machine whose NVIDIA driver
sees a GPU while the installed backend is a CPU build (``tensorflow-cpu``,
``jax`` without its CUDA plugin, PyTorch's CPU wheel).  :func:`gpu_hint` says
so, and names what to install.  It asks the driver first, from files alone
(cheap), so on a machine without a GPU it costs nothing and imports nothing;
only when the driver sees a GPU does it ask the backend, which training is
about to import anyway.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

# What to install, by backend, when the driver sees a GPU the backend does not.
_FIX = {
    "tensorflow": (
        "TensorFlow",
        "a CPU build (tensorflow-cpu, from cnnspec[train])",
        "in a fresh virtualenv, pip install 'cnnspec[gpu]' (tensorflow[and-cuda]); "
        "never beside cnnspec[train]: the last TensorFlow installed wins",
    ),
    "jax": (
        "JAX",
        "the CPU build (cnnspec[jax])",
        "pip install -U 'jax[cuda12]' (or 'jax[cuda13]' with an NVIDIA driver >= 580)",
    ),
    "torch": (
        "PyTorch",
        "a CPU build",
        "in a fresh virtualenv, pip install 'cnnspec[torch]' (PyPI's torch for Linux is the CUDA build), "
        "or a CUDA wheel from https://download.pytorch.org/whl/",
    ),
}


def driver_sees_gpu(root: Path = Path("/"), smi: str | None = "nvidia-smi") -> bool:
    """Whether the NVIDIA driver reports a GPU: a ``/proc/driver/nvidia/gpus``
    entry or ``/dev/nvidia0`` under ``root``, else (only then) ``smi -L``.

    ``root`` and ``smi`` are there for tests (a fake tree, no ``nvidia-smi``).
    """
    gpus = root / "proc/driver/nvidia/gpus"
    if (gpus.is_dir() and any(gpus.iterdir())) or (root / "dev/nvidia0").exists():
        return True
    # Some containers mount the driver's tools without /proc/driver/nvidia.
    exe = shutil.which(smi) if smi else None
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def backend_sees_gpu(backend: str) -> bool | None:
    """Whether ``backend`` (``tensorflow``, ``jax``, ``torch``) sees a GPU;
    ``None`` for another backend or one that is not installed."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except ImportError:
        return None
    return None


def gpu_hint(backend: str, driver_probe: Callable[[], bool] = driver_sees_gpu) -> str | None:
    """A one-line warning when the driver sees a GPU that ``backend`` does not, else ``None``.

    ``driver_probe`` is the driver-side question (tests pass ``lambda: True``);
    the backend is always asked for real.  ``None`` too for a backend that
    cannot use an NVIDIA GPU (``numpy``) or is not installed.

    >>> gpu_hint("tensorflow", driver_probe=lambda: False) is None
    True
    """
    if backend not in _FIX or not driver_probe():
        return None
    if backend_sees_gpu(backend) is not False:
        return None
    name, build, fix = _FIX[backend]
    return (
        f"a GPU is visible to the NVIDIA driver but not to {name} ({build} is installed): "
        f"training runs on the CPU. For the GPU: {fix}."
    )
