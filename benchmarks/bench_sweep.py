"""Per-run overhead of ``cnnspec sweep`` against ``cnnspec train`` run once per spec.

    python benchmarks/bench_sweep.py [--specs 4] [--epochs 2] [--per-class 40] [--size 16] [--json]

Both sides train the same specs with the same options on the same generated
image folder, each in fresh processes, exactly as a user would type them:

* **one by one**: ``cnnspec train specs.cnn --name NAME ...``, one process
  per spec;
* **sweep**: ``cnnspec sweep specs.cnn ...``, one process for all.

*Epoch time* is the sum of the ``seconds`` column of each run's own
``history.csv`` (the fit itself, validation included).  *Overhead* is
everything else: interpreter and TensorFlow start-up, the data scan, the
checks, building and compiling the model, writing the run directory.  A
sweep pays the start-up once, so its per-run overhead is the sweep's wall
time minus all epoch time, divided by the number of runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECS = [
    "c8 = C: 8 D: 16R",
    "c8n = C: 8n 16n D: 16R",
    "c16 = C: 16 32 D: 16R",
    "d32 = D: 32R 16R",
    "c8gap = C: 8 16 gap",
    "c4 = C: 4k5 D: 8R",
]


def make_images(root: Path, classes: int, per_class: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            band = (c * size) // classes
            img[:, band : band + max(1, size // classes)] += 150
            Image.fromarray(img, "RGB").save(folder / f"{i:04d}.png")


def epoch_seconds(run_dir: Path) -> float:
    with open(run_dir / "history.csv", newline="") as fh:
        return sum(float(row["seconds"]) for row in csv.DictReader(fh))


def cnnspec(*args: str) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cnnspec", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"cnnspec {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--specs", type=int, default=4, help=f"how many specs (at most {len(SPECS)})")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    specs = SPECS[: args.specs]
    names = [s.split(" =")[0] for s in specs]

    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        root = Path(tmp)
        make_images(root / "data", args.classes, args.per_class, args.size)
        spec_file = root / "specs.cnn"
        spec_file.write_text("\n".join(specs) + "\n", encoding="utf-8")
        common = ["--data", str(root / "data"), "--epochs", str(args.epochs), "--batch-size", "16", "-q"]

        one: dict[str, tuple[float, float]] = {}
        for name in names:
            wall = cnnspec("train", str(spec_file), "--name", name, *common, "--out", str(root / "one" / name))
            one[name] = (wall, epoch_seconds(root / "one" / name))

        sweep_wall = cnnspec("sweep", str(spec_file), *common, "--out", str(root / "sweep"))
        sweep_epochs = {name: epoch_seconds(root / "sweep" / name) for name in names}

    n = len(names)
    one_wall = sum(w for w, _ in one.values())
    one_over = sum(w - e for w, e in one.values())
    sweep_over = sweep_wall - sum(sweep_epochs.values())
    print(f"{n} specs x {args.epochs} epochs, {args.classes * args.per_class} images of {args.size}x{args.size}x3")
    print()
    print(f"{'spec':<8} {'train: wall s':>14} {'epochs s':>9} {'overhead s':>11}   {'sweep: epochs s':>16}")
    for name in names:
        w, e = one[name]
        print(f"{name:<8} {w:>14.2f} {e:>9.2f} {w - e:>11.2f}   {sweep_epochs[name]:>16.2f}")
    print()
    print(f"{'':<24}{'one by one':>12} {'sweep':>10}")
    print(f"{'total wall s':<24}{one_wall:>12.2f} {sweep_wall:>10.2f}")
    print(f"{'total epoch s':<24}{sum(e for _, e in one.values()):>12.2f} {sum(sweep_epochs.values()):>10.2f}")
    print(f"{'overhead per run s':<24}{one_over / n:>12.2f} {sweep_over / n:>10.2f}")
    print(f"{'speed-up (wall)':<24}{'':>12} {one_wall / sweep_wall:>9.2f}x")
    if args.json:
        runs = {k: {"wall": w, "epochs": e} for k, (w, e) in one.items()}
        figures = {
            "specs": n,
            "epochs": args.epochs,
            "one_by_one": {"wall": one_wall, "overhead_per_run": one_over / n, "runs": runs},
            "sweep": {"wall": sweep_wall, "overhead_per_run": sweep_over / n, "epochs": sweep_epochs},
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
