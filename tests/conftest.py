"""Shared test set-up: a quiet, single-threaded Keras and one hypothesis profile.

Nothing here imports TensorFlow or Keras at collection time (a test holds
that ``import cnnspec`` stays light); the ``keras`` fixture imports it on
first use.
"""

from __future__ import annotations

import os

# Before any test imports Keras: the TensorFlow backend, no log spam, and few
# threads, because CI and the dev machine have two cores shared with others.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from hypothesis import HealthCheck, settings

# Deterministic property tests: the same examples on every run and machine.
# HYPOTHESIS_PROFILE=dev explores new random examples instead.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on TensorFlow, imported once, with TensorFlow's threads limited."""
    import keras  # a dev dependency: missing, the tests must fail, not skip

    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except (ImportError, RuntimeError):  # another backend, or threads already fixed
        pass
    return keras
