"""Export time, and prediction throughput of ONNX Runtime against Keras on the same batch.

    python benchmarks/bench_export.py [--images 512] [--batch-size 64] [--repeat 3] [--spec "I: ... "]...

For each spec: build the model (random weights: throughput does not depend
on training), save it as ``.keras``, export it with :func:`cnnspec.deploy.export.export`
(conversion, ``onnx.checker``, parity on random 0-255 images) and time that;
then predict the same batch of raw 0-255 images with Keras ``model.predict``
and with an ONNX Runtime session, best of ``--repeat`` after a warm-up, and
print images/s side by side.  Both use their default thread pools.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPECS = [
    "I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10",  # the experiment tables' row
    "I: 28x28x1 C: 32vn 32k5s2n d⅖ 64vn 64k5s2n d⅖ D: 128Rn d⅖ O: 10",  # the MNIST article
    "I: 64x64x3 A: flip rot.1 C: 32 32 64 64 128 gap D: 128R d½ O: 5",  # a larger one, GELU-free
    "I: 32x32x3 C: 32G 32G 64W 64W D: 64G O: 10",  # GELU (exact) and swish
]


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spec", action="append", help="a spec to measure (repeatable); default: four built in")
    args = parser.parse_args()

    import keras
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    import cnnspec
    from cnnspec.deploy.export import export

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; keras {keras.__version__}, "
        f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnxruntime {ort.__version__}"
    )
    print(f"# {args.images} images, batch {args.batch_size}, best of {args.repeat}\n")
    header = (
        f"{'spec':<62} {'params':>8} {'export s':>9} {'max |diff|':>11} "
        f"{'keras img/s':>12} {'onnx img/s':>11} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for text in args.spec or SPECS:
        spec = cnnspec.parse(text)
        model = cnnspec.build(spec, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.keras"
            model.save(path)
            start = time.perf_counter()
            report = export(path, Path(tmp) / "m.onnx")
            export_s = time.perf_counter() - start  # load + convert + check + parity + write
            session = ort.InferenceSession(str(Path(tmp) / "m.onnx"), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        batch = rng.integers(0, 256, size=(args.images, *model.inputs[0].shape[1:])).astype(np.float32)

        def run_onnx(batch=batch, session=session) -> np.ndarray:
            parts = [
                session.run(None, {"image": batch[i : i + args.batch_size]})[0]
                for i in range(0, len(batch), args.batch_size)
            ]
            return np.concatenate(parts)

        def run_keras(batch=batch, model=model) -> np.ndarray:
            return model.predict(batch, batch_size=args.batch_size, verbose=0)

        diff = float(np.abs(run_onnx() - run_keras()).max())  # also the warm-up
        keras_s = best_of(args.repeat, run_keras)
        onnx_s = best_of(args.repeat, run_onnx)
        shown = text if len(text) <= 62 else text[:59] + "..."
        print(
            f"{shown:<62} {model.count_params():>8,} {export_s:>9.2f} {max(diff, report.max_abs_diff or 0):>11.2e} "
            f"{args.images / keras_s:>12,.0f} {args.images / onnx_s:>11,.0f} {keras_s / onnx_s:>8.1f}x"
        )


if __name__ == "__main__":
    main()
