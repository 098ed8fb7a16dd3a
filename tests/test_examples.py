"""The articles' networks in ``examples/``: checker == Keras == the articles' figures.

Every spec of every ``examples/*.cnn`` file is checked, built with Keras and
compared layer by layer (names, output shapes, parameters, trainable and
non-trainable).  Where an article prints figures, ``examples/expected.json``
records them with their source and both the checker and the model must match.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import cnnspec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))["examples"]


def _example_specs() -> list[tuple[str, cnnspec.Spec]]:
    out = []
    for path in sorted(EXAMPLES.glob("*.cnn")):
        for spec in cnnspec.load(path).specs:
            out.append((f"{path.name}:{spec.name}" if spec.name else path.name, spec))
    return out


SPECS = _example_specs()


def _weights(weights: list) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.fixture(scope="module")
def keras_models() -> dict[str, object]:
    """Each example built once (Keras import and builds take a few seconds)."""
    return {key: cnnspec.build(spec, seed=0) for key, spec in SPECS}


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES.glob("*.cnn")}
    assert {"cifar10_convnet.cnn", "mnist_mlp.cnn", "mnist_conv_pool.cnn", "experiments.cnn"} <= names
    assert len(SPECS) >= 12


@pytest.mark.parametrize("key,spec", SPECS, ids=[k for k, _ in SPECS])
def test_example_is_valid_and_canonical_round_trips(key: str, spec: cnnspec.Spec) -> None:
    checked = cnnspec.check(spec)
    assert checked.ok, checked.errors
    assert not checked.head_from_data
    again = cnnspec.parse(cnnspec.format(spec))
    assert cnnspec.format(again) == cnnspec.format(spec)
    assert cnnspec.check(again).total_params == checked.total_params


@pytest.mark.parametrize("key,spec", SPECS, ids=[k for k, _ in SPECS])
def test_checker_equals_keras(key: str, spec: cnnspec.Spec, keras_models: dict) -> None:
    checked = cnnspec.check(spec)
    model = keras_models[key]
    keras_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert [layer.name for layer in keras_layers] == [layer.name for layer in checked.layers]
    for ours, theirs in zip(checked.layers, keras_layers, strict=True):
        assert ours.kind == type(theirs).__name__, ours.name
        assert ours.output_shape == tuple(theirs.output.shape[1:]), ours.name
        assert ours.params == theirs.count_params(), ours.name
        assert ours.trainable_params == _weights(theirs.trainable_weights), ours.name
        assert ours.non_trainable_params == _weights(theirs.non_trainable_weights), ours.name
    assert checked.total_params == model.count_params()
    assert checked.trainable_params == _weights(model.trainable_weights)
    assert checked.non_trainable_params == _weights(model.non_trainable_weights)
    assert checked.output_shape == tuple(model.output.shape[1:])


def _find(entry: dict) -> cnnspec.Spec:
    specs = cnnspec.load(EXAMPLES / entry["file"])
    return specs[entry["spec"]] if "spec" in entry else specs.specs[0]


@pytest.mark.parametrize(
    "entry", EXPECTED, ids=[e["file"] + (":" + e["spec"] if "spec" in e else "") for e in EXPECTED]
)
def test_articles_printed_figures(entry: dict, keras_models: dict) -> None:
    spec = _find(entry)
    checked = cnnspec.check(spec)
    model = keras_models[f"{entry['file']}:{spec.name}" if spec.name else entry["file"]]
    for key in ("total_params", "trainable_params", "non_trainable_params"):
        if key in entry:
            assert getattr(checked, key) == entry[key], (key, entry["source"])
    if "total_params" in entry:
        assert model.count_params() == entry["total_params"]
    if "total_params_thousands" in entry:
        # The article writes "963k": thousands, truncated.
        assert checked.total_params // 1000 == entry["total_params_thousands"]
        assert model.count_params() // 1000 == entry["total_params_thousands"]
    by_name = {layer.name: layer for layer in checked.layers}
    for name, want in entry["layers"].items():
        layer = by_name[name]
        if "output_shape" in want:
            assert list(layer.output_shape) == want["output_shape"], name
            assert list(model.get_layer(name).output.shape[1:]) == want["output_shape"], name
        if "params" in want:
            assert layer.params == want["params"], name
            assert model.get_layer(name).count_params() == want["params"], name


def test_every_expected_entry_names_a_source() -> None:
    for entry in EXPECTED:
        assert entry["source"].startswith("seed 00"), entry
        assert (EXAMPLES / entry["file"]).is_file()


# --------------------------------------------------------------------------
# The version-2 examples against the networks as Keras code writes them.
#
# Each is built here by hand with Keras' functional API, as the papers' and
# tutorials' code does, with no cnnspec in it; the totals (parameters,
# trainable and not, MACs) and the count of each layer class must be the
# checker's and those of the model cnnspec builds.


def _keras_v2_reference(name: str) -> object:
    import keras
    from keras import layers

    def conv(x, filters, stride=1, act=True, kernel=3):  # the notation's `B` (`BI` when act=False)
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x) if act else x

    def sep(x, filters, act=True):  # `sepB` / `sepBI`
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x) if act else x

    def depthwise(x, stride=1):  # `dwB`
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        return layers.Activation("relu")(layers.BatchNormalization()(x))

    def relu(x):
        return layers.Activation("relu")(x)

    def project(x, filters, stride):
        return layers.Conv2D(filters, 1, strides=stride, padding="same")(x)

    inputs = keras.Input((64, 64, 3) if name == "xception_style" else (32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    if name == "resnet_cifar10":
        x = conv(x, 16)
        for filters, stride in ((16, 1), (16, 1), (32, 2), (32, 1), (64, 2), (64, 1)):
            y = conv(conv(x, filters, stride), filters, act=False)
            shortcut = x if x.shape[1:] == y.shape[1:] else project(x, filters, stride)
            x = relu(layers.Add()([y, shortcut]))
        x = layers.GlobalAveragePooling2D()(x)
    elif name == "mobilenet_style":
        x = conv(x, 32, stride=2)
        for stride, filters in ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256)):
            x = conv(depthwise(x, stride), filters, kernel=1)
        x = layers.Dropout(0.2)(layers.Flatten()(x))
    else:  # xception_style
        x = conv(conv(x, 32, stride=2), 64)
        for filters, first in ((128, False), (256, True)):  # entry flow
            y = relu(x) if first else x
            y = sep(sep(y, filters), filters, act=False)
            y = layers.MaxPooling2D(3, strides=2, padding="same")(y)
            x = layers.Add()([y, project(x, filters, 2)])
        y = x  # middle flow
        for _ in range(3):
            y = sep(relu(y), 256, act=False)
        x = relu(layers.Add()([y, x]))
        x = layers.GlobalAveragePooling2D()(sep(x, 512))  # exit flow
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


V2_EXAMPLES = ("resnet_cifar10", "mobilenet_style", "xception_style")


def _keras_totals(model: object) -> dict[str, object]:
    """Parameters, trainable and not, MACs and the count of each layer class, from Keras alone.

    A MAC is one kernel weight applied at one output position: a layer's MACs are its
    kernels' sizes (biases, batch norm and the rest left out) times its output's positions.
    """
    from collections import Counter

    macs = 0
    for layer in model.layers:  # type: ignore[attr-defined]
        kernels = [w for w in layer.weights if "kernel" in w.path.rsplit("/", 1)[-1]]
        positions = math.prod(layer.output.shape[1:-1])
        macs += positions * sum(math.prod(w.shape) for w in kernels)
    classes = Counter(type(la).__name__ for la in model.layers if type(la).__name__ != "InputLayer")  # type: ignore[attr-defined]
    return {
        "total": model.count_params(),  # type: ignore[attr-defined]
        "trainable": _weights(model.trainable_weights),  # type: ignore[attr-defined]
        "non_trainable": _weights(model.non_trainable_weights),  # type: ignore[attr-defined]
        "macs": macs,
        "classes": dict(classes),
    }


@pytest.mark.parametrize("name", V2_EXAMPLES)
def test_v2_example_totals_equal_the_network_as_keras_code_writes_it(name: str, keras_models: dict) -> None:
    from collections import Counter

    spec = cnnspec.load(EXAMPLES / f"{name}.cnn").specs[0]
    checked = cnnspec.check(spec)
    assert checked.ok, checked.errors
    ours = {
        "total": checked.total_params,
        "trainable": checked.trainable_params,
        "non_trainable": checked.non_trainable_params,
        "macs": checked.macs,
        "classes": dict(Counter(layer.kind for layer in checked.layers)),
    }
    assert ours == _keras_totals(_keras_v2_reference(name))
    assert ours == _keras_totals(keras_models[f"{name}.cnn"])


def test_v2_examples_use_what_they_show() -> None:
    """The ResNet has identity and projection shortcuts, the MobileNet dw and B without pools,
    the Xception sep convolutions in blocks closed by p3s2z."""
    layers = {name: cnnspec.check(cnnspec.load(EXAMPLES / f"{name}.cnn").specs[0]).layers for name in V2_EXAMPLES}
    assert {la.shortcut for la in layers["resnet_cifar10"] if la.kind == "Add"} == {"identity", "projection"}
    mobile = layers["mobilenet_style"]
    assert "DepthwiseConv2D" in {la.kind for la in mobile} and not any("Pooling" in la.kind for la in mobile)
    assert not any(la.use_bias for la in mobile if la.kind in ("Conv2D", "DepthwiseConv2D"))
    xception = layers["xception_style"]
    assert any(la.kind == "SeparableConv2D" and la.block for la in xception)
    assert any(la.pool_padding == "same" and la.pool_stride == 2 and la.pool_size == 3 for la in xception)
