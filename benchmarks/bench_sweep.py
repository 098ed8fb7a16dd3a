"""Per-run overhead of ``cnnspec sweep`` against ``cnnspec train`` run once per spec; with
``--engines``, the engines and halving instead.

    python benchmarks/bench_sweep.py [--specs 4] [--epochs 2] [--per-class 40] [--size 16] [--json]
    python benchmarks/bench_sweep.py --engines [--runs 4] [--epochs 4] [--json]

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

ENGINES_DOC = """\
--engines: the same sweep, side by side in one run (each a fresh ``cnnspec sweep`` process):

* **local vs Ray**: ``--engine local`` (one run after another) against ``--engine ray
  --cpus-per-run 1`` (a Ray of this machine started by the command: 2 runs at once on 2
  cores), on ``--runs`` variants of the digits spec and a subset of the example digits.  Wall
  time (Ray's start-up included), runs per hour, and the CPU time of the whole process tree
  (driver, Ray's services, workers; psutil, sampled every 0.2 s).
* **halving vs full**: 8 variants of the digits spec, ``--halving --halving-min-epochs 1
  --halving-factor 2`` against the full sweep (local engine): epochs trained, wall time and the
  best variant (highest best validation accuracy, fewer parameters breaking a tie); and the
  halving sweep again with ``--engine ray`` (2 runs at once: they are compared as they reach
  each rung, so other runs may be stopped).
"""
DIGITS = Path(__file__).resolve().parent.parent / "examples" / "data" / "digits"
ENGINE_SPECS = "digits = I: 8x8x1 C: {4,8,12,16} 16 D: 16R d¼ O: 10\n"
HALVING_SPECS = "h = I: 8x8x1 C: {16,8,4,2} D: {16R,4R} O: 10\n"

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


def digits_subset(root: Path, per_class: int) -> Path:
    import shutil

    for folder in sorted(p for p in DIGITS.iterdir() if p.is_dir()):
        (root / folder.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(folder.glob("*.png"))[:per_class]:
            shutil.copy(f, root / folder.name / f.name)
    return root


def measured(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``cnnspec ARGS`` and every process it starts (Ray's too)."""
    import psutil

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-m", "cnnspec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        env=env)  # fmt: skip
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
            except psutil.Error:
                pass
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"cnnspec {' '.join(args)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, sum(cpu.values())


def sweep_epochs(out: Path) -> tuple[int, str]:
    """Epochs trained in all, and the best variant, from the sweep folder's own files."""
    doc = json.loads((out / "sweep.json").read_text())
    total, best = 0, (-1.0, 0, "")
    for s in doc["specs"]:
        metrics = json.loads((out / s["run_dir"] / "metrics.json").read_text())
        total += metrics["epochs_completed"]
        best = max(best, (metrics["best"]["val_accuracy"], -metrics["total_params"], s["name"]))
    return total, f"{best[2]} ({best[0]:.4f})"


def engines(args: argparse.Namespace) -> None:
    import psutil

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        root = Path(tmp)
        data = digits_subset(root / "digits", args.per_class)
        common = ["--data", str(data), "--epochs", str(args.epochs), "--batch-size", "32", "-q"]
        specs = root / "engines.cnn"
        specs.write_text(ENGINE_SPECS, encoding="utf-8")
        local = measured("sweep", str(specs), *common, "--out", str(root / "local"))
        ray = measured("sweep", str(specs), *common, "--out", str(root / "ray"), "--engine", "ray",
                       "--cpus-per-run", "1")  # fmt: skip
        hspecs = root / "halving.cnn"
        hspecs.write_text(HALVING_SPECS, encoding="utf-8")
        hcommon = [*common, "--lr", "0.01"]
        full = measured("sweep", str(hspecs), *hcommon, "--out", str(root / "full"))
        halved = measured("sweep", str(hspecs), *hcommon, "--out", str(root / "halved"), "--halving",
                          "--halving-min-epochs", "1", "--halving-factor", "2")  # fmt: skip
        halved_ray = measured("sweep", str(hspecs), *hcommon, "--out", str(root / "halved-ray"), "--halving",
                              "--halving-min-epochs", "1", "--halving-factor", "2", "--engine", "ray")  # fmt: skip
        full_epochs, full_best = sweep_epochs(root / "full")
        halved_epochs, halved_best = sweep_epochs(root / "halved")
        ray_epochs, ray_best = sweep_epochs(root / "halved-ray")
    n = ENGINE_SPECS.count(",") + 1
    after = os.getloadavg()
    print(f"{psutil.cpu_count()} cores; load average before {load[0]:.2f}, after {after[0]:.2f} (1 min)")
    print(f"local vs Ray: {n} variants x {args.epochs} epochs, {10 * args.per_class} digits images (8x8x1)")
    print(f"{'':<22}{'local':>10} {'ray (2 x 1 CPU)':>16}")
    print(f"{'wall s':<22}{local[0]:>10.1f} {ray[0]:>16.1f}")
    print(f"{'runs per hour':<22}{3600 * n / local[0]:>10.0f} {3600 * n / ray[0]:>16.0f}")
    print(f"{'CPU s (process tree)':<22}{local[1]:>10.1f} {ray[1]:>16.1f}")
    print(f"{'speed-up (wall)':<22}{'':>10} {local[0] / ray[0]:>15.2f}x")
    print()
    print(f"halving vs full: 8 variants x {args.epochs} epochs (min 1 epoch, factor 2)")
    print(f"{'':<16}{'full (local)':>22} {'halving (local)':>22} {'halving (ray 2x1)':>22}")
    print(f"{'epochs trained':<16}{full_epochs:>22} {halved_epochs:>22} {ray_epochs:>22}")
    print(f"{'wall s':<16}{full[0]:>22.1f} {halved[0]:>22.1f} {halved_ray[0]:>22.1f}")
    print(f"{'best variant':<16}{full_best:>22} {halved_best:>22} {ray_best:>22}")
    if args.json:
        print(json.dumps({
            "load": [load[0], after[0]], "variants": n, "epochs": args.epochs,
            "local": {"wall": local[0], "cpu": local[1]}, "ray": {"wall": ray[0], "cpu": ray[1]},
            "full": {"wall": full[0], "epochs": full_epochs, "best": full_best},
            "halving": {"wall": halved[0], "epochs": halved_epochs, "best": halved_best},
            "halving_ray": {"wall": halved_ray[0], "epochs": ray_epochs, "best": ray_best},
        }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--specs", type=int, default=4, help=f"how many specs (at most {len(SPECS)})")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--engines", action="store_true", help="local vs Ray, halving vs full (see below)")
    ap.epilog = ENGINES_DOC
    args = ap.parse_args()
    if args.engines:
        if "--epochs" not in sys.argv:
            args.epochs = 4
        if "--per-class" not in sys.argv:
            args.per_class = 60
        engines(args)
        return
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
