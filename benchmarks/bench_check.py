"""How fast is ``cnnspec check``?  Prints the figures issue 2 asks for.

    python benchmarks/bench_check.py [--runs 7] [--keras-runs 3] [--skip-keras]

1. Cold ``cnnspec check`` of a typical spec: the median wall time of several
   fresh processes (the console script, as a user runs it; target <= 0.3 s).
   "Cold" is a fresh interpreter, not a cold disk: one untimed run first lets
   Python write its bytecode and lark its parser cache, as any second use would.
2. The same spec built and summarized by Keras in a fresh process
   (``cnnspec.build(spec).summary()``), and the ratio of the two (target >= 20x).
3. In-process parse + check throughput over a mix of typical specs
   (target >= 2,000 specs/s).
4. Parse + check time of specs with 10, 100 and 1,000 layers, and the time per
   layer, which must stay flat (linear growth); the same for version-2 specs
   made of residual blocks (``[16b 16In]+R``, 7 layers each).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SPEC = "I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"
MIX = [
    SPEC,
    "I: 32x32x3 C: 64 64 p 32 32 p 16 16 D: 512R 64R O: 10",
    "I: 28x28x1 C: 64 32 D: 32R 32R O: 10",
    "I: 32x32x3 C: 32 32v d¼ 64 64v d¼ 64 64v d¼ D: 512R d½ O: 10",
    "I: 200x200x3 A: hvflip rot.1 zoom.15 contrast.1 C: 32n 32n d.2 64k5n 64k5n d.2 D: 128R d.2 64R d.2 O: 10",
    "I: 64x64x3 C: 32k5s2 64 ap 128W gap d.3 O: 5",
    # version 2: a residual network, a MobileNet-style and an Xception-style one, bare items
    "I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10",
    "I: 32x32x3 C: 32s2B dwB 64k1B dws2B 128k1B p0 D: n d½ O: 10",
    "I: 64x64x3 C: 32s2b [64sepb 64sepB p3s2z]+ [128sepb 128sepB p3s2z]+R gap O: 10",
    "I: 32x32x3 C: 32I n R 32I n R d¼ 64 p3s2 128 p3s2z D: n 300Rn 100bR O: 10",
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", COLUMNS="120", TF_CPP_MIN_LOG_LEVEL="3")
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    cpu, start = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, cpu


class Runs:
    """Wall and CPU times of fresh processes.  On a busy machine the wall time
    includes waiting for a core; the CPU time (user + system) does not."""

    def __init__(self, cmd: list[str], runs: int) -> None:
        _timed(cmd)  # warm-up: bytecode and parser caches written, as on any second use
        self.wall, self.cpu = zip(*(_timed(cmd) for _ in range(runs)), strict=True)
        self.median = statistics.median(self.wall)
        self.cpu_median = statistics.median(self.cpu)

    def __str__(self) -> str:
        return (
            f"{self.median * 1000:7.1f} ms median of {len(self.wall)} "
            f"(min {min(self.wall) * 1000:.1f}, max {max(self.wall) * 1000:.1f}; CPU {self.cpu_median * 1000:.1f} ms)"
        )


def cnnspec_command() -> list[str]:
    script = shutil.which("cnnspec", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cnnspec"]


def throughput(seconds: float = 2.0) -> tuple[float, int, float]:
    """Specs per second of wall time, how many, and specs per second of CPU time (on a
    busy machine the wall rate includes waiting for a core)."""
    import cnnspec

    for text in MIX:  # build the parser and every pydantic model first
        cnnspec.check(cnnspec.parse(text))
    n = 0
    start, cpu = time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for text in MIX:
            checked = cnnspec.check(cnnspec.parse(text))
            assert checked.ok
        n += len(MIX)
    return n / elapsed, n, n / (time.process_time() - cpu)


def layers_spec(n: int) -> str:
    # n layers of the network: convolutions and dropouts, no pooling (p0), so
    # any length keeps a 16x16 map.
    items = ["16" if i % 4 else "d.1" for i in range(1, n + 1)]
    return f"I: 16x16x3 C: {' '.join(items)} p0 D: 8R O: 10"


def blocks_spec(n: int) -> str:
    # version 2: n items, most of them in identity residual blocks of two
    # convolutions (7 layers a block), so any length keeps a 16x16x16 map.
    return f"I: 16x16x16 C: {' '.join(['[16b 16In]+R'] * (n // 3))} p0 D: 8R O: 10"


def scaling(
    sizes: tuple[int, ...] = (10, 100, 1000), repeats: int = 5, spec=layers_spec
) -> list[tuple[int, int, float]]:
    import cnnspec

    out = []
    for n in sizes:
        text = spec(n)
        best = float("inf")
        for _ in range(repeats):
            # CPU time of this process: on a busy machine a wall clock also counts
            # the time spent waiting for a core, which is not the spec's cost
            start = time.process_time()
            checked = cnnspec.check(cnnspec.parse(text))
            best = min(best, time.process_time() - start)
        assert checked.ok
        out.append((n, len(checked.layers), best))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="fresh cnnspec processes (median)")
    ap.add_argument("--keras-runs", type=int, default=3, help="fresh Keras processes (median)")
    ap.add_argument("--skip-keras", action="store_true")
    args = ap.parse_args()

    print(f"spec: {SPEC}")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    bare = Runs([sys.executable, "-c", "pass"], args.runs)
    cold = Runs([*cnnspec_command(), "check", "--spec", SPEC], args.runs)
    print(f"bare python:              {bare}")
    print(f"cold `cnnspec check`:     {cold}  target <= 300 ms: {'ok' if cold.median <= 0.3 else 'OVER TARGET'}")
    if not args.skip_keras:
        code = f"import cnnspec, keras\nmodel = cnnspec.build(cnnspec.parse({SPEC!r}))\nmodel.summary()\n"
        keras_runs = Runs([sys.executable, "-c", code], args.keras_runs)
        ratio, cpu_ratio = keras_runs.median / cold.median, keras_runs.cpu_median / cold.cpu_median
        print(f"Keras build + summary:    {keras_runs}")
        print(f"ratio Keras / check:      {ratio:7.1f}x wall, {cpu_ratio:.1f}x CPU  "
              f"target >= 20x: {'ok' if ratio >= 20 else 'UNDER TARGET'}")  # fmt: skip

    rate, n, cpu_rate = throughput()
    print(f"parse + check in-process: {rate:7.0f} specs/s ({n} specs; {cpu_rate:.0f}/s of CPU time)  "
          f"target >= 2,000/s: {'ok' if rate >= 2000 else 'UNDER TARGET'}")  # fmt: skip

    for title, spec in (("", layers_spec), (", version-2 residual blocks", blocks_spec)):
        rows = scaling(spec=spec)
        print(f"scaling (best of 5, parse + check, CPU time{title}):")
        for written, layers, seconds in rows:
            print(f"  {written:5d} items -> {layers:5d} layers: {seconds * 1000:8.2f} ms  "
                  f"{seconds / layers * 1e6:6.1f} us/layer")  # fmt: skip
        per_layer = [s / layers for _, layers, s in rows]
        growth = per_layer[-1] / per_layer[1]
        print(f"  per-layer time, 1,000 vs 100 items: {growth:.2f}x ({'linear' if growth < 1.5 else 'NOT LINEAR'})")


if __name__ == "__main__":
    main()
