#!/usr/bin/env bash
# cnnspec on an NVIDIA GPU with JAX: does it train, and does it keep the GPU busy?
#
#   benchmarks/gpu_check.sh      # on the GPU machine, from the repository root, with .whl/ beside it
#
# For a Linux machine with an NVIDIA GPU, JAX (with CUDA) and PyTorch, no
# TensorFlow and no network.  First, on a networked machine,
# benchmarks/gpu_wheels.sh builds the folder of wheels (.whl/: cnnspec, keras
# and the small dependencies such a machine lacks).  Then this script:
#
# 1. makes a virtualenv that sees the machine's own packages (JAX with CUDA,
#    PyTorch, NumPy) and installs cnnspec[jax] into it from that folder alone
#    (pip --no-index --find-links);
# 2. checks that examples/cifar10_convnet.cnn has 631,658 parameters (`cnnspec check`);
# 3. runs benchmarks/bench_train.py on the JAX backend: it generates a folder of
#    32x32 PNGs (20,000, 10 classes, class-coloured blobs on noise: learnable),
#    trains the convnet with `cnnspec train` and with a hand-written Keras script
#    in the articles' style (Sequential, model.fit on NumPy arrays) on the same
#    data and batch size, and prints the images per second of each, their ratio,
#    and the share of each epoch the GPU waits for data.
#
# About 2 to 3 minutes on a modern GPU.  Env (for trying it on a CPU):
# GPU_WHEELS (default .whl), PYTHON (default python3), GPU_CHECK_IMAGES (20000),
# GPU_CHECK_EPOCHS (5; the first is not timed), GPU_CHECK_BATCH (256),
# GPU_CHECK_VENV (default /tmp/cnnspec-gpu-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${GPU_WHEELS:-.whl}
python=${PYTHON:-python3}
images=${GPU_CHECK_IMAGES:-20000}
epochs=${GPU_CHECK_EPOCHS:-5}
batch=${GPU_CHECK_BATCH:-256}
venv=${GPU_CHECK_VENV:-/tmp/cnnspec-gpu-venv}
start=$SECONDS

echo "== the machine"
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
"$python" -c "import jax; print('jax', jax.__version__, jax.devices())"
if "$python" -c "import tensorflow" 2>/dev/null; then echo "note: TensorFlow is installed here"; fi

echo "== cnnspec from $wheels, offline"
# The machine's python3 may itself be a virtualenv (/opt/torch/.venv), where
# --system-site-packages would show the base interpreter's packages, not its
# JAX: a .pth file puts the very site-packages of "$python" on the new venv's path.
rm -rf "$venv"
"$python" -m venv "$venv"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$python" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith("-packages")))' >"$site/_system_site.pth"
"$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" --disable-pip-version-check "cnnspec[jax]"
export KERAS_BACKEND=jax
"$venv/bin/python" -c "import cnnspec, keras; print('cnnspec from', cnnspec.__file__, '· keras', keras.__version__, 'on', keras.backend.backend())"

echo "== the network"
"$venv/bin/cnnspec" check examples/cifar10_convnet.cnn | tee /tmp/cnnspec-gpu-check.txt
grep -q "Total params: 631,658" /tmp/cnnspec-gpu-check.txt || { echo "gpu_check.sh: expected 631,658 parameters" >&2; exit 1; }

echo "== cnnspec train against the articles' script, JAX"
# Run from benchmarks/ so that the installed cnnspec (not the checkout's) is the one imported.
(cd benchmarks && PYTHONPATH= "$venv/bin/python" bench_train.py --workload cifar --images "$images" \
    --backends jax --batches "$batch" --repeats 1 --epochs "$epochs")
echo "== gpu_check.sh took $((SECONDS - start)) s"
