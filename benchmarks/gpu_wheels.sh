#!/usr/bin/env bash
# The folder of wheels that benchmarks/gpu_check.sh installs, offline, on a GPU machine.
#
#   benchmarks/gpu_wheels.sh            # on a machine with network; writes .whl/ (git-ignored)
#
# The GPU machine has Python, NumPy, JAX with CUDA and PyTorch, but no TensorFlow
# and no network.  This builds cnnspec's own wheel and downloads, for that
# machine's Python (GPU_PYTHON_VERSION, default 3.12) on Linux x86-64, every
# wheel that `cnnspec[keras]` needs (keras, lark, pydantic, rich, typer,
# matplotlib, Pillow, h5py, optree ... resolved together, so their versions
# agree), then leaves out what such a machine already has: NumPy and ml_dtypes
# (JAX needs both).  No
# TensorFlow, no JAX, no PyTorch.  The folder travels to the machine (the
# device tool's `carry`), so it must stay small: its size is printed.
#
# Env: GPU_WHEELS (folder, default .whl), GPU_PYTHON_VERSION (default 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${GPU_WHEELS:-.whl}
py=${GPU_PYTHON_VERSION:-3.12}
abi="cp${py/./}"
rm -rf "$out"
mkdir -p "$out"
quiet() { grep -v "^WARNING: Location 'file:" >&2 || true; }  # this workplace's local indexes
python3 -m pip wheel -q --no-deps --wheel-dir "$out" . 2> >(quiet)
wheel=$(ls "$out"/cnnspec-*.whl)
platforms=()
for p in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_34_x86_64; do
    platforms+=(--platform "$p")
done
python3 -m pip download -q --only-binary=:all: --python-version "$py" --implementation cp --abi "$abi" \
    "${platforms[@]}" --dest "$out" "$wheel[keras]" 2> >(quiet)
# What the GPU machine has (JAX and PyTorch need it): carrying it would only shadow its own build.
rm -f "$out"/numpy-*.whl "$out"/ml_dtypes-*.whl
for banned in tensorflow tensorflow_cpu jax jaxlib torch; do
    if ls "$out/$banned"-*.whl >/dev/null 2>&1; then
        echo "gpu_wheels.sh: $banned must not be in $out" >&2
        exit 1
    fi
done
ls "$out"
echo "$(ls "$out" | wc -l) wheels in $out: $(du -sh "$out" | cut -f1) ($(du -sb "$out" | cut -f1) bytes) for Python $py"
