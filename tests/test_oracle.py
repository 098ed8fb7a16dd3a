"""Keras is the oracle: the pure-Python checker must agree with the built model.

For hand-written specs and for random valid specs from :mod:`specgen`, the
model that ``cnnspec.build`` compiles is compared with ``cnnspec.check``
layer by layer: name, Keras class name, output shape (without the batch
dimension), parameters, trainable and non-trainable counts and MACs; then
the totals against ``model.count_params()`` and the model's weights.  MACs
on the Keras side are computed here from each layer's own config
(``kernel_size``, ``filters``, ``units``, input and output shapes), never
with the checker's helpers.  The builder is also held against the IR: every
kernel, stride, padding, activation, regularizer, pool and dropout rate.

How many random specs: 300 by default (CI).  Set ``CNNSPEC_ORACLE_N`` to run
more, e.g. ``CNNSPEC_ORACLE_N=5000 pytest tests/test_oracle.py``, and
``CNNSPEC_ORACLE_SEED`` to draw another set.  A failure names the spec, its
index and how to regenerate it.
"""

from __future__ import annotations

import math
import os
import random

import pytest
import specgen

import cnnspec
from cnnspec.notation.ir import KERAS_ACTIVATIONS, Conv, Dense, Dropout, GlobalPool, Pool

ORACLE_N = int(os.environ.get("CNNSPEC_ORACLE_N", "300"))
ORACLE_SEED = int(os.environ.get("CNNSPEC_ORACLE_SEED", "0"))
#: Keras keeps every layer of a session alive; clearing it now and then keeps
#: building fast and memory flat.
CLEAR_EVERY = 25

HAND_WRITTEN: list[tuple[str, tuple[int, int, int] | None, int | None]] = [
    # The experiment-table seeds and NOTATION.md's implied-pool examples.
    ("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10", None, None),
    ("C: 16n 16n d¼ 32n 32n d¼ D: 8R 8R", (32, 32, 3), 10),
    ("I: 32x32x3 C: 64 32", None, 10),
    ("I: 32x32x3 C: 64 32 p0 O: 10", None, None),
    ("I: 32x32x3 C: 16 d¼ 16 O: 10", None, None),
    ("I: 32x32x3 C: 16s2 16 O: 10", None, None),
    ("I: 32x32x3 C: d¼ 16 O: 10", None, None),
    ("I: 32x32x3 C: 16 16 32 16 O: 10", None, None),
    ("I: 32x32x3 C: 16 16 32 32 gap O: 10", None, None),
    # The articles' networks: a CIFAR-10 and an MNIST convnet.
    ("I: 32x32x3 C: 32 32 p d.25 64 64 p d.25 D: 512R d½ O: 10", None, None),
    ("I: 28x28x1 C: 32 64 p d¼ D: 128R d½ O: 10", None, None),
    ("I: 28x28x1 C: 32k5 p 64k5 p D: 1024R d.4 O: 10", None, None),
    # Every modifier, pool, head and augmentation.
    ("I: 37x23x2 C: 8k3x5s2vEnL2=1e-3 8k1T 5k5vGL2 ap3 d12.5% 4WnL2=0.5 p D: 7SnL2 d1/3 O: 1", None, None),
    ("I: 9x9x4 C: 3k4v 6s3 gmp d⅞ D: d0 5I O: 3IL2=2e-4", None, None),
    ("I: 8x8x3 A: flip vflip hvflip rot.5 zoom1 shift.1 contrast0.2 bright.2 C: 4 O: 2", None, None),
    ("I: 64x48x3 A: hvflip rot.1 zoom.15 contrast.1 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10", None, None),
    ("I: 12x12x3 C: 4 p3 ap 8 gap D: 3 O: 1S", None, None),
    ("I: 6x6x1 C: 4 ap2 p2 O: 4I", None, None),
    # Edges: 1x1 inputs, dense only, no head written, stride larger than the map.
    ("I: 1x1x1 C: 4k5 4s3 p0 O: 2", None, None),
    ("I: 1x1x3 C: 2k7 gap O: 2", None, None),
    ("I: 4x5x6 D: 3 d½ 2R O: 1", None, None),
    ("I: 4x5x6 D: d½", None, 3),
    ("C: 4 d0 p0", (2, 2, 1), 2),
    ("I: 3x3x1 C: 4k3v 4k1v p0 D: 2 2 O: 2", None, None),
    # Multi-line, comments, tabs, touching headers.
    ("# a table row\nI:32x32x3\nC:16n 16n d¼  # block 1\n\t32n 32n d¼\nD: 16R O:10", None, None),
]


# --------------------------------------------------------------------------
# Facts from the Keras model, computed independently of the checker


def _weights_size(weights: list) -> int:
    return sum(math.prod(w.shape) for w in weights)


def _keras_macs(layer) -> int:
    """Multiply-accumulates of one layer, from its Keras config alone."""
    cls = type(layer).__name__
    if cls == "Conv2D":
        kh, kw = layer.kernel_size
        _, oh, ow, filters = layer.output.shape
        assert filters == layer.filters
        return oh * ow * filters * kh * kw * layer.input.shape[-1]
    if cls == "Dense":
        return layer.input.shape[-1] * layer.units
    return 0


def keras_facts(model) -> list[dict]:
    facts = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        facts.append(
            {
                "name": layer.name,
                "kind": type(layer).__name__,
                "output_shape": tuple(layer.output.shape[1:]),
                "params": layer.count_params(),
                "trainable_params": _weights_size(layer.trainable_weights),
                "non_trainable_params": _weights_size(layer.non_trainable_weights),
                "macs": _keras_macs(layer),
            }
        )
    return facts


def checker_facts(checked: cnnspec.CheckedSpec) -> list[dict]:
    keys = ("name", "kind", "output_shape", "params", "trainable_params", "non_trainable_params", "macs")
    return [{k: getattr(layer, k) for k in keys} for layer in checked.layers]


def assert_same_network(spec: cnnspec.Spec, input_shape=None, classes=None, label: str = "") -> None:
    """Check ``spec`` and build it; every number must agree with Keras."""
    checked = cnnspec.check(spec, input_shape, classes)
    assert checked.ok, f"{label}: the checker rejects a valid spec:\n{checked.errors}"
    model = cnnspec.build(spec, input_shape, classes)

    ours, theirs = checker_facts(checked), keras_facts(model)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        assert a == b, f"{label}: layer {i} differs\n checker: {a}\n keras:   {b}"
    assert len(ours) == len(theirs), f"{label}: {[a['name'] for a in ours]} != {[b['name'] for b in theirs]}"

    assert checked.total_params == model.count_params(), label
    assert checked.trainable_params == _weights_size(model.trainable_weights), label
    assert checked.non_trainable_params == _weights_size(model.non_trainable_weights), label
    assert checked.macs == sum(f["macs"] for f in theirs), label
    assert checked.output_shape == tuple(model.output.shape[1:]), label
    assert checked.input_shape == tuple(model.input.shape[1:]), label
    activations = math.prod(model.input.shape[1:]) + sum(math.prod(f["output_shape"]) for f in theirs)
    assert checked.activation_bytes == 4 * activations, label
    assert checked.param_bytes == 4 * model.count_params(), label
    assert_builder_follows_ir(spec, model, checked.classes, label)


def assert_builder_follows_ir(spec: cnnspec.Spec, model, classes: int | None, label: str) -> None:
    """Each IR node became the Keras layer it means, with its settings."""
    by_name = {layer.name: layer for layer in model.layers}
    conv_i = pool_i = dense_i = drop_i = 0

    def l2_of(layer) -> float | None:
        reg = layer.kernel_regularizer
        return None if reg is None else pytest.approx(float(reg.l2))

    def dropout(item: Dropout) -> None:
        nonlocal drop_i
        drop_i += 1
        assert by_name[f"dropout{drop_i}"].rate == pytest.approx(float(item.rate)), label

    for item in spec.conv or ():
        if isinstance(item, Conv):
            conv_i += 1
            layer = by_name[f"conv{conv_i}"]
            assert tuple(layer.kernel_size) == item.kernel, label
            assert tuple(layer.strides) == (item.stride, item.stride), label
            assert layer.padding == item.padding, label
            assert layer.activation.__name__ == KERAS_ACTIVATIONS[item.activation], label
            assert layer.use_bias and layer.data_format == "channels_last", label
            assert l2_of(layer) == item.l2, label
            assert (f"conv{conv_i}_bn" in by_name) == item.batchnorm, label
        elif isinstance(item, Pool):
            pool_i += 1
            layer = by_name[f"pool{pool_i}"]
            assert type(layer).__name__ == ("MaxPooling2D" if item.op == "max" else "AveragePooling2D"), label
            assert tuple(layer.pool_size) == (item.size, item.size), label
            assert tuple(layer.strides) == (item.size, item.size), label
            assert layer.padding == "valid", label
        elif isinstance(item, GlobalPool):
            assert ("gap" if item.op == "avg" else "gmp") in by_name, label
        elif isinstance(item, Dropout):
            dropout(item)
    for item in spec.dense or ():
        if isinstance(item, Dense):
            dense_i += 1
            layer = by_name[f"dense{dense_i}"]
            assert layer.activation.__name__ == KERAS_ACTIVATIONS[item.activation], label
            assert l2_of(layer) == item.l2, label
            assert (f"dense{dense_i}_bn" in by_name) == item.batchnorm, label
        else:
            dropout(item)
    head = by_name["head"]
    assert head.units == classes, label
    if spec.head is not None:
        assert head.activation.__name__ == spec.head.keras_activation, label
        assert l2_of(head) == spec.head.l2, label
    else:
        assert head.activation.__name__ == ("softmax" if classes > 1 else "sigmoid"), label
    for aug in spec.augment or ():
        cfg, f = by_name[f"aug_{aug.name}"].get_config(), aug.factor
        if aug.name in ("flip", "vflip", "hvflip"):
            expected = {"flip": "horizontal", "vflip": "vertical", "hvflip": "horizontal_and_vertical"}[aug.name]
            assert cfg["mode"] == expected, label
        elif aug.name in ("rot", "bright"):
            assert tuple(cfg["factor"]) == pytest.approx((-f, f)), label
        elif aug.name == "zoom":  # width_factor None: the same zoom both ways
            assert (cfg["height_factor"], cfg["width_factor"]) == (pytest.approx(f), None), label
        elif aug.name == "shift":
            assert (cfg["height_factor"], cfg["width_factor"]) == (pytest.approx(f), pytest.approx(f)), label
        else:
            assert max(cfg["factor"]) == pytest.approx(f), label
        if aug.name in ("contrast", "bright"):  # augmentations run on 0-255 pixels
            assert tuple(cfg["value_range"]) == (0, 255), label
    rescaling = by_name["rescaling"]
    assert rescaling.scale == pytest.approx(1 / 255) and rescaling.offset == 0, label


# --------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("text, input_shape, classes", HAND_WRITTEN)
def test_hand_written_specs_match_keras(keras, text, input_shape, classes):
    assert_same_network(cnnspec.parse(text), input_shape, classes, label=repr(text))


def test_hand_written_totals(keras):
    """The seed of the experiment tables, its totals worked out by hand from
    the Keras formulas (conv k*k*cin*f + f, BN 4 per channel, dense in*out + out)."""
    checked = cnnspec.check(cnnspec.parse("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"))
    convs = (3 * 3 * 3 * 16 + 16) + (3 * 3 * 16 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (3 * 3 * 32 * 32 + 32)
    bn = 4 * (16 + 16 + 32 + 32)
    dense = (8 * 8 * 32 * 16 + 16) + (16 * 10 + 10)
    assert checked.total_params == convs + bn + dense
    assert checked.non_trainable_params == bn // 2


def test_gelu_is_exact(keras):
    """G is GELU "exact, not the tanh approximation": Keras' default."""
    import inspect

    assert KERAS_ACTIVATIONS["G"] == "gelu"
    assert inspect.signature(keras.activations.gelu).parameters["approximate"].default is False


def test_random_specs_match_keras(keras):
    """ORACLE_N random valid specs: checker and Keras agree on every number."""
    gens = specgen.random_specs(ORACLE_N, ORACLE_SEED)
    failures: list[str] = []
    for i, gen in enumerate(gens):
        if i % CLEAR_EVERY == 0:
            keras.backend.clear_session()
        label = (
            f"spec {i} (specgen.random_specs({ORACLE_N}, {ORACLE_SEED})[{i}]): {gen.text!r} "
            f"input={gen.input_shape} classes={gen.classes}"
        )
        try:
            assert_same_network(cnnspec.parse(gen.text), gen.input_shape, gen.classes, label)
        except (AssertionError, cnnspec.SpecError) as exc:
            failures.append(f"{label}\n{exc}")
            if len(failures) >= 5:
                break
    keras.backend.clear_session()
    assert not failures, "\n\n".join(failures)


def test_random_specs_cover_the_notation():
    """300 random specs (the CI default) use every feature of the notation."""
    used = set().union(*(g.features for g in specgen.random_specs(300, 0)))
    assert specgen.ALL_FEATURES <= used, sorted(specgen.ALL_FEATURES - used)


def test_random_named_files_match_keras(keras):
    """Named multi-spec files: each spec of the file is the spec alone."""
    rng = random.Random(ORACLE_SEED)
    for k in range(10):
        text, gens = specgen.random_file(rng, n=rng.randint(1, 4))
        specs = cnnspec.parse_file(text).specs
        assert len(specs) == len(gens), text
        for spec, gen in zip(specs, gens, strict=True):
            alone = cnnspec.parse(gen.text)
            assert checker_facts(cnnspec.check(spec, gen.input_shape, gen.classes)) == checker_facts(
                cnnspec.check(alone, gen.input_shape, gen.classes)
            ), text
            assert_same_network(spec, gen.input_shape, gen.classes, label=f"file {k}, spec {spec.name}: {text!r}")
    keras.backend.clear_session()
