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

The random specs cover version 2 too (``b``/``B``, ``sep``, ``dw``, bare items,
strided and padded pools, residual blocks with identity and projection
shortcuts, braces variants inside blocks).  How many random specs: 300 by default (CI).  Set ``CNNSPEC_ORACLE_N`` to run
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
from cnnspec.notation.ir import (
    KERAS_ACTIVATIONS,
    ActivationItem,
    BatchNorm,
    Block,
    Conv,
    Dense,
    Depthwise,
    Dropout,
    GlobalPool,
    Head,
    InputShape,
    NoPool,
    Pool,
    Span,
)
from cnnspec.notation.variants import expand_file

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
    """Multiply-accumulates of one layer, from its Keras config alone.

    A convolution: every output value is a dot product over its window
    (``kh*kw*cin``); a separable one adds the depthwise pass (``kh*kw`` per
    input channel and output cell) to a 1x1 pointwise pass (``cin*filters``
    per cell); a depthwise one is the depthwise pass alone.  Dense: ``in*out``.
    Biases, batch norms, pools, activations and additions count no MACs.
    """
    cls = type(layer).__name__
    if cls in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
        kh, kw = layer.kernel_size
        _, oh, ow, cout = layer.output.shape
        cin = layer.input.shape[-1]
        if cls == "Conv2D":
            assert cout == layer.filters
            return oh * ow * cout * kh * kw * cin
        assert layer.depth_multiplier == 1
        if cls == "DepthwiseConv2D":
            assert cout == cin
            return oh * ow * cin * kh * kw
        assert cout == layer.filters
        return oh * ow * (cin * kh * kw + cin * cout)
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
                # an Add has two inputs; its output is one tensor as any layer's
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


def _producer(tensor) -> str:
    """The name of the layer that made a Keras tensor."""
    return tensor._keras_history.operation.name


def assert_builder_follows_ir(spec: cnnspec.Spec, model, classes: int | None, label: str) -> None:
    """Each IR node became the Keras layer it means, with its settings.

    The names are the checker's (``conv3``, ``sepconv1``, ``conv3_bn``,
    ``block2_add``), counted here along the IR, so a layer the builder made
    from the wrong item, or did not make, is found by name.
    """
    by_name = {layer.name: layer for layer in model.layers}
    counts: dict[str, int] = {}
    previous = ["rescaling"]  # the name of the last layer built: a block's input

    def named(prefix: str) -> str:
        counts[prefix] = counts.get(prefix, 0) + 1
        return f"{prefix}{counts[prefix]}"

    def get(name: str, cls: str):
        assert name in by_name, f"{label}: no layer {name}"
        layer = by_name[name]
        assert type(layer).__name__ == cls, f"{label}: {name} is {type(layer).__name__}, not {cls}"
        previous[0] = name
        return layer

    def reg(r) -> float | None:
        return None if r is None else pytest.approx(float(r.l2))

    def activation_of(layer) -> str:
        return layer.activation.__name__

    def own_layers(name: str, item: Conv | Depthwise | Dense) -> None:
        """b/B: batch norm then the activation (none for I); n: batch norm after it."""
        if item.prenorm:
            get(f"{name}_bn", "BatchNormalization")
            assert (f"{name}_act" in by_name) == (item.activation != "I"), label
            if item.activation != "I":
                assert (
                    get(f"{name}_act", "Activation").get_config()["activation"] == KERAS_ACTIVATIONS[item.activation]
                ), label
        assert (f"{name}_bn" in by_name) == (item.batchnorm or item.prenorm is not None), label
        if item.batchnorm:
            get(f"{name}_bn", "BatchNormalization")

    def convolution(item: Conv | Depthwise) -> None:
        if isinstance(item, Depthwise):
            name = named("dwconv")
            layer = get(name, "DepthwiseConv2D")
            assert layer.depth_multiplier == 1 and reg(layer.depthwise_regularizer) == item.l2, label
        elif item.separable:
            name = named("sepconv")
            layer = get(name, "SeparableConv2D")
            assert layer.depth_multiplier == 1 and layer.filters == item.filters, label
            assert reg(layer.depthwise_regularizer) == item.l2 == reg(layer.pointwise_regularizer), label
        else:
            name = named("conv")
            layer = get(name, "Conv2D")
            assert layer.filters == item.filters and reg(layer.kernel_regularizer) == item.l2, label
        assert tuple(layer.kernel_size) == item.kernel, label
        assert tuple(layer.strides) == (item.stride, item.stride), label
        assert layer.padding == item.padding and layer.data_format == "channels_last", label
        assert activation_of(layer) == ("linear" if item.prenorm else KERAS_ACTIVATIONS[item.activation]), label
        assert layer.use_bias == (item.prenorm != "B"), label
        own_layers(name, item)

    def block(item: Block) -> None:
        before = previous[0]
        for sub in item.items:
            one(sub)
        k = counts["block"] = counts.get("block", 0) + 1
        output = previous[0]
        add = get(f"block{k}_add", "Add")
        operands = [_producer(t) for t in add._inbound_nodes[0].input_tensors]
        assert operands[0] == output, label
        if operands[1] != before:  # the shortcut is a projection of the block's input
            proj = get(f"block{k}_proj", "Conv2D")
            assert operands[1] == proj.name == f"block{k}_proj", label
            assert _producer(proj._inbound_nodes[0].input_tensors[0]) == before, label
            stride = math.prod(
                s.stride if isinstance(s, (Conv, Depthwise)) else s.strides
                for s in item.items
                if isinstance(s, (Conv, Depthwise, Pool))
            )
            assert tuple(proj.kernel_size) == (1, 1) and tuple(proj.strides) == (stride, stride), label
            assert proj.padding == "same" and proj.use_bias and activation_of(proj) == "linear", label
            assert proj.kernel_regularizer is None, label
            assert tuple(proj.output.shape) == tuple(add.input[0].shape), label
        else:
            assert f"block{k}_proj" not in by_name, label
            assert tuple(add.input[0].shape) == tuple(add.input[1].shape), label
        get(f"block{k}_add", "Add")
        assert (f"block{k}_act" in by_name) == (item.activation not in (None, "I")), label
        if item.activation not in (None, "I"):
            assert (
                get(f"block{k}_act", "Activation").get_config()["activation"] == KERAS_ACTIVATIONS[item.activation]
            ), label

    def one(item) -> None:
        if isinstance(item, (Conv, Depthwise)):
            convolution(item)
        elif isinstance(item, Block):
            block(item)
        elif isinstance(item, Pool):
            layer = get(named("pool"), "MaxPooling2D" if item.op == "max" else "AveragePooling2D")
            assert tuple(layer.pool_size) == (item.size, item.size), label
            assert tuple(layer.strides) == (item.strides, item.strides), label
            assert layer.padding == item.padding, label
        elif isinstance(item, GlobalPool):
            get(
                "gap" if item.op == "avg" else "gmp",
                "GlobalAveragePooling2D" if item.op == "avg" else "GlobalMaxPooling2D",
            )
        elif isinstance(item, Dropout):
            assert get(named("dropout"), "Dropout").rate == pytest.approx(float(item.rate)), label
        elif isinstance(item, BatchNorm):
            get(named("bn"), "BatchNormalization")
        elif isinstance(item, ActivationItem):
            layer = get(named("act"), "Activation")
            assert layer.get_config()["activation"] == KERAS_ACTIVATIONS[item.activation], label
        elif isinstance(item, Dense):
            name = named("dense")
            layer = get(name, "Dense")
            assert layer.units == item.units and reg(layer.kernel_regularizer) == item.l2, label
            assert activation_of(layer) == ("linear" if item.prenorm else KERAS_ACTIVATIONS[item.activation]), label
            assert layer.use_bias == (item.prenorm != "B"), label
            own_layers(name, item)

    for item in (*(spec.conv or ()), *(spec.dense or ())):
        one(item)
    head = by_name["head"]
    assert head.units == classes, label
    if spec.head is not None:
        assert head.activation.__name__ == spec.head.keras_activation, label
        assert reg(head.kernel_regularizer) == spec.head.l2, label
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
# Version-2 networks built as IR (the parser of v2 text lands apart)

_AT = Span(line=1, column=1)


def _c(filters: int, text: str = "", **kw) -> Conv:
    return Conv(span=_AT, text=text or str(filters), filters=filters, **kw)


def _blk(*items, activation=None) -> Block:
    return Block(span=_AT, text="[", items=items, activation=activation, close=_AT, close_text="]+")


def _ir(shape, conv=None, dense=None, classes=10) -> cnnspec.Spec:
    h, w, c = shape
    return cnnspec.Spec(
        input=InputShape(span=_AT, text=f"{h}x{w}x{c}", height=h, width=w, channels=c),
        conv=conv,
        dense=dense,
        head=Head(span=_AT, text=str(classes), classes=classes),
    )


def _pool(size=2, stride=None, padding="valid", op="max") -> Pool:
    return Pool(span=_AT, text="p", size=size, stride=stride, padding=padding, op=op)


def _dw(**kw) -> Depthwise:
    return Depthwise(span=_AT, text="dw", **kw)


def _n() -> BatchNorm:
    return BatchNorm(span=_AT, text="n")


def _a(letter: str) -> ActivationItem:
    return ActivationItem(span=_AT, text=letter, activation=letter)


V2_IR: dict[str, cnnspec.Spec] = {
    # NOTATION.md's normative example: C: 32b [32b 32In]+R [64s2b 64In]+R gap
    "resnet": _ir(
        (32, 32, 3),
        (
            _c(32, prenorm="b"),
            _blk(_c(32, prenorm="b"), _c(32, activation="I", batchnorm=True), activation="R"),
            _blk(_c(64, stride=2, prenorm="b"), _c(64, activation="I", batchnorm=True), activation="R"),
            GlobalPool(span=_AT, text="gap"),
        ),
    ),
    # C: 32s2B dwB 64k1B dws2B 128k1B p0
    "mobilenet": _ir(
        (32, 32, 3),
        (
            _c(32, stride=2, prenorm="B"),
            _dw(prenorm="B"),
            _c(64, kernel=(1, 1), prenorm="B"),
            _dw(stride=2, prenorm="B"),
            _c(128, kernel=(1, 1), prenorm="B"),
            NoPool(span=_AT, text="p0"),
        ),
    ),
    # Xception-style: sep, blocks whose pools pad, a projection over a stride-2 pool
    "xception": _ir(
        (29, 31, 3),
        (
            _c(16, stride=2, prenorm="b"),
            _blk(
                _c(32, separable=True, prenorm="b"), _c(32, separable=True, prenorm="B", l2=1e-3), _pool(3, 2, "same")
            ),
            _blk(
                _a("R"),
                _c(32, separable=True, kernel=(5, 3), prenorm="b"),
                _n(),
                Dropout(span=_AT, text="d0", rate=0),
                activation="E",
            ),
            _blk(_dw(kernel=(3, 5), l2=0.01, activation="T", batchnorm=True)),
            _pool(3, 2),
            _pool(2, 1, op="avg"),
            _pool(2, 3, op="avg"),
            _pool(2, padding="same"),
            _dw(padding="valid", kernel=(1, 1), activation="I"),
        ),
        (
            _n(),
            Dense(span=_AT, text="8b", units=8, prenorm="b", activation="G"),
            _a("W"),
            Dense(span=_AT, text="8B", units=8, prenorm="B"),
        ),
        classes=3,
    ),
    # I: 28x28x1 C: [16 16]+ : a stride-1 projection of the image (32 parameters)
    "channels": _ir((28, 28, 1), (_blk(_c(16), _c(16)),), classes=2),
}


# --------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("text, input_shape, classes", HAND_WRITTEN)
def test_hand_written_specs_match_keras(keras, text, input_shape, classes):
    assert_same_network(cnnspec.parse(text), input_shape, classes, label=repr(text))


@pytest.mark.parametrize("name", sorted(V2_IR))
def test_version2_networks_match_keras(keras, name):
    assert_same_network(V2_IR[name], label=name)


def test_normative_resnet_totals(keras):
    """NOTATION.md: ``I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10`` has 78,474
    parameters, 448 non-trainable, and its second block's projection 2,112: held against Keras."""
    model = cnnspec.build(V2_IR["resnet"])
    assert model.count_params() == 78_474 == cnnspec.check(V2_IR["resnet"]).total_params
    assert _weights_size(model.non_trainable_weights) == 448
    assert model.get_layer("block2_proj").count_params() == 2_112
    assert "block1_proj" not in {layer.name for layer in model.layers}
    channels = cnnspec.build(V2_IR["channels"])
    assert channels.get_layer("block1_proj").count_params() == 32


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
    gens = specgen.random_specs(ORACLE_N, ORACLE_SEED, variants=True)
    failures: list[str] = []
    for i, gen in enumerate(gens):
        if i % CLEAR_EVERY == 0:
            keras.backend.clear_session()
        label = (
            f"spec {i} (specgen.random_specs({ORACLE_N}, {ORACLE_SEED}, variants=True)[{i}]): {gen.text!r} "
            f"input={gen.input_shape} classes={gen.classes}"
        )
        try:
            # braces variants (inside blocks): every spec they expand to is valid, and held
            specs = expand_file(gen.text).specs if gen.variants else (cnnspec.parse(gen.text),)
            for spec in specs:
                assert_same_network(spec, gen.input_shape, gen.classes, f"{label} {spec.name or ''}")
        except (AssertionError, cnnspec.SpecError) as exc:
            failures.append(f"{label}\n{exc}")
            if len(failures) >= 5:
                break
    keras.backend.clear_session()
    assert not failures, "\n\n".join(failures)


def test_random_specs_cover_the_notation():
    """300 random specs (the CI default) use every feature of the notation."""
    used = set().union(*(g.features for g in specgen.random_specs(300, 0, variants=True)))
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


def test_the_normative_resnet_from_its_text(keras):
    """The issue's example written as text, held against Keras (not the text's figures)."""
    spec = cnnspec.parse("I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10")
    assert_same_network(spec, label="normative resnet")
    model = cnnspec.build(spec)
    assert (model.count_params(), _weights_size(model.non_trainable_weights)) == (78_474, 448)
    checked = cnnspec.check(spec)
    assert [layer.shortcut for layer in checked.layers if layer.kind == "Add"] == ["identity", "projection"]
    assert {layer.block for layer in checked.layers} == {None, 1, 2}
