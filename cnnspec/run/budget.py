"""A sweep's budgets and pre-flight: what fits, what it will train on, and about how long.

Budgets (``--max-params``, ``--max-macs``) are held against the exact numbers of the static
checker (:func:`cnnspec.network.checker.check`, the same as Keras'), before anything trains.

The time estimate is a range, never one figure: a CNN's training time is not known from
its MACs alone (per-step overhead dominates a small network; the kernels used differ by
device).  It takes ``3 × MACs`` per image and epoch (forward pass, and about twice that
backwards) at a stated throughput range per device kind (:data:`RATES`), plus stated
overhead ranges per step (:data:`STEP_SECONDS`) and per run (:data:`RUN_SECONDS`).
These ranges are stated, not measured here, and the pre-flight says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnnspec.errors import UserError

_SUFFIX = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}
_COUNT_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([kKMG]?)")
COUNT_FORMS = "a whole number, or one with a suffix k (thousand), M (million) or G (billion): 50000, 50k, 1.5M, 2G"

#: Effective training throughput (MACs per second) of a small Keras CNN, lowest to highest,
#: by device kind: a stated range, wide on purpose.
RATES = {"CPU": (1e9, 2e10), "GPU": (2e10, 1e12)}
#: Seconds of overhead per training step (the input pipeline, the step's dispatch, the
#: validation pass spread over the steps).  The CPU figures hold a 2-core machine: the
#: digits example (45 steps an epoch) took 29.5 s for 10 epochs of a 400-parameter CNN.
STEP_SECONDS = {"CPU": (0.005, 0.08), "GPU": (0.002, 0.03)}
#: Seconds per run to build and compile the model and open the data.
RUN_SECONDS = (2.0, 15.0)


class BudgetError(UserError):
    """A budget that is not a count (``--max-params 5x``); a usage error (exit 2)."""

    code = "budget"
    exit_code = 2


def parse_count(value: int | str, option: str = "budget") -> int:
    """``50k`` → 50000, ``1.5M`` → 1500000, ``2G`` → 2000000000; an int is kept.

    Anything else (negative, a fraction of one, an unknown suffix) raises :class:`BudgetError`.
    """
    if isinstance(value, bool):
        raise BudgetError(f"{option}: {value!r} is not a count", COUNT_FORMS)
    if isinstance(value, int):
        if value < 0:
            raise BudgetError(f"{option}: {value} is negative", COUNT_FORMS)
        return value
    m = _COUNT_RE.fullmatch(str(value).strip().replace("_", ""))
    if not m:
        raise BudgetError(f"{option}: {value!r} is not a count", COUNT_FORMS)
    number = float(m.group(1)) * _SUFFIX[m.group(2)]
    if not math.isfinite(number) or number != int(number):
        raise BudgetError(f"{option}: {value!r} is not a whole count", COUNT_FORMS)
    return int(number)


def over_budget(params: int, macs: int, max_params: int | None, max_macs: int | None) -> str:
    """Why a network is over budget (``params 12,345 > --max-params 10,000``), or ``""``."""
    why = []
    if max_params is not None and params > max_params:
        why.append(f"params {params:,} > --max-params {max_params:,}")
    if max_macs is not None and macs > max_macs:
        why.append(f"MACs {macs:,} > --max-macs {max_macs:,}")
    return "; ".join(why)


@dataclass(frozen=True)
class Device:
    """What the runs train on: ``kind`` CPU or GPU, ``count`` of them, the Keras backend."""

    kind: str
    count: int
    backend: str

    def describe(self) -> str:
        many = f"{self.count} × " if self.count > 1 else ""
        return f"{many}{self.kind} ({self.backend} backend)"


def detect_device(distribute: str | None = None) -> Device:
    """The device a run will use: the GPUs the backend sees (all of them with ``mirrored``,
    else one), or the CPU.  Imports Keras and its backend (not TensorFlow, on JAX or PyTorch):
    call it only when something trains."""
    import keras

    from cnnspec.run.fit import gpu_count

    backend = keras.config.backend()
    gpus = gpu_count(backend)
    if gpus:
        return Device("GPU", gpus if distribute == "mirrored" else 1, backend)
    return Device("CPU", 1, backend)


def estimate_seconds(runs: list[tuple[int, int, int]], batch_size: int, device: Device) -> tuple[float, float]:
    """The (low, high) seconds of ``runs``, each ``(macs, images, epochs)`` (see the module)."""
    lo_rate, hi_rate = RATES.get(device.kind, RATES["CPU"])
    lo_step, hi_step = STEP_SECONDS.get(device.kind, STEP_SECONDS["CPU"])
    scale = max(1, device.count)
    low = high = 0.0
    for macs, images, epochs in runs:
        work = 3 * macs * images * epochs / scale
        steps = math.ceil(images / batch_size) * epochs
        low += work / hi_rate + steps * lo_step + RUN_SECONDS[0]
        high += work / lo_rate + steps * hi_step + RUN_SECONDS[1]
    return low, high


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def describe_estimate(low: float, high: float, device: Device) -> str:
    """``about 10 s to 2 min (3 × MACs per image … ; a stated rate, not measured)``."""
    lo_rate, hi_rate = RATES.get(device.kind, RATES["CPU"])
    lo_step, hi_step = STEP_SECONDS.get(device.kind, STEP_SECONDS["CPU"])
    return (
        f"about {_duration(low)} to {_duration(high)} "
        f"(3 × the checker's MACs per image and epoch at {lo_rate / 1e9:g}–{hi_rate / 1e9:g} GMAC/s, "
        f"plus {lo_step * 1e3:g}–{hi_step * 1e3:g} ms per step and {RUN_SECONDS[0]:g}–{RUN_SECONDS[1]:g} s per run: "
        f"stated {device.kind} rates, not measured)"
    )


__all__ = [
    "COUNT_FORMS",
    "BudgetError",
    "Device",
    "describe_estimate",
    "detect_device",
    "estimate_seconds",
    "over_budget",
    "parse_count",
]
