"""Keras model -> spec: round trips (``build(parse(from_keras(m)))`` has m's layers, shapes and params),
hand-written models in the articles' style, and the first layer the notation cannot express."""

from __future__ import annotations

import numpy as np
import pytest
from export_support import SPECS, trained_run


def _table(model, drop_rescaling: bool = False) -> list[tuple[str, tuple, int]]:
    from cnnspec.model.from_keras import layers_of

    return [
        (type(layer).__name__, tuple(layer.output.shape), layer.count_params())
        for layer in layers_of(model)
        if not (drop_rescaling and type(layer).__name__ == "Rescaling")
    ]


def _round_trip(model):
    import cnnspec
    from cnnspec.model.from_keras import convert

    conv = convert(model)
    built = cnnspec.build(cnnspec.parse(conv.spec))
    assert _table(built, drop_rescaling=not conv.rescales) == _table(model)
    assert built.count_params() == model.count_params()
    return conv, built


@pytest.mark.parametrize("key", list(SPECS))
def test_trained_cnnspec_models_round_trip(keras, key):
    import json

    model = keras.saving.load_model(trained_run(key) / "model.keras")
    conv, _ = _round_trip(model)
    canonical = json.loads((trained_run(key) / "run.json").read_text(encoding="utf-8"))["canonical"]
    assert conv.notes == [] and conv.rescales
    body = conv.spec.split(" C: ", 1)[1] if " C: " in conv.spec else conv.spec
    assert body.split(" O: ")[0] in canonical


def test_tensorflow_tutorial_model(keras):
    """The TensorFlow image-classification tutorial: a nested augmentation block, logits head."""
    from keras import layers

    augmentation = keras.Sequential(
        [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)], name="augment"
    )
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            augmentation,
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(5),
        ]
    )
    conv, _ = _round_trip(model)
    assert conv.spec == "I: 32x32x3 A: flip rot.1 zoom.1 C: 16 p 32 p 64 p d⅕ D: 128R O: 5I"


def _mnist_article_model(keras):
    """The experiment tables' code: Keras defaults (valid padding), BN after the activation, no Rescaling."""
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, kernel_size=3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(32, kernel_size=5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Conv2D(64, kernel_size=3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(64, kernel_size=5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ]
    )


def test_article_model_without_rescaling(keras):
    conv, _ = _round_trip(_mnist_article_model(keras))
    assert conv.spec == "I: 28x28x1 C: 32vn 32k5s2n d⅖ 64vn 64k5s2n d⅖ p0 D: 128Rn d⅖ O: 10"
    assert not conv.rescales
    assert "no Rescaling layer" in conv.notes[0] and "raw 0-255" in conv.notes[0]


@pytest.mark.slow
def test_trained_article_model_computes_the_same_function(keras):
    """Weights copied into the rebuilt model give the same outputs; it takes raw pixels, the original x/255."""
    from export_support import load_folder, make_images, train_model

    import cnnspec
    from cnnspec.model.from_keras import convert

    keras.utils.set_random_seed(3)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        x, y, _ = load_folder(make_images(Path(tmp), 10, (28, 28, 1), per_class=6))
    model = _mnist_article_model(keras)
    train_model(model, x / 255.0, y, epochs=1)
    built = cnnspec.build(cnnspec.parse(convert(model).spec))
    built.set_weights(model.get_weights())
    want = np.asarray(model(x[:8] / 255.0, training=False))
    got = np.asarray(built(x[:8], training=False))
    assert np.abs(got - want).max() < 1e-5


def test_functional_chain_with_every_other_kind(keras):
    from keras import layers, regularizers

    inp = keras.Input((20, 20, 3))
    x = layers.RandomFlip("horizontal_and_vertical")(inp)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = layers.RandomContrast(0.2)(x)
    x = layers.RandomBrightness(0.2)(x)
    x = layers.Rescaling(1 / 255)(x)
    x = layers.Conv2D(8, (3, 5), strides=2, padding="valid", activation="gelu")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="swish", kernel_regularizer=regularizers.L2(0.01))(x)
    x = layers.AveragePooling2D(3)(x)
    x = layers.Conv2D(8, 1, padding="same", activation="elu", kernel_regularizer="l2")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(4, 3, padding="same", activation="tanh")(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dropout(1 / 3)(x)
    x = layers.Dense(6, activation="sigmoid", kernel_regularizer=regularizers.L2(1e-4))(x)
    x = layers.Dense(6, activation="linear")(x)
    out = layers.Dense(1, activation="sigmoid")(x)
    conv, _ = _round_trip(keras.Model(inp, out))
    assert conv.spec == (
        "I: 20x20x3 A: hvflip shift.1 contrast.2 bright.2 C: 8k3x5s2vG 8WL2 ap3 8k1EnL2 4T gmp d⅓ D: 6SL2=0.0001 6 O: 1"
    )


def test_plain_convolutions_get_p0_and_gap_needs_no_flatten(keras):
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    assert _round_trip(model)[0].spec == "I: 8x8x1 C: 4 4 p0 O: 3"
    gap = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    assert _round_trip(gap)[0].spec == "I: 8x8x3 C: 4 gap O: 2"
    mlp = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dense(3, "softmax")]
    )
    assert _round_trip(mlp)[0].spec == "I: 8x8x1 D: 16R O: 3"


def test_flatten_and_head_alone_are_written_with_c_p0(keras):
    """A spec needs C: or D:; a model that is only Flatten + head gets `C: p0`, a C: that adds no layer."""
    from keras import layers

    bare = keras.Sequential([keras.Input((8, 8, 3)), layers.Flatten(), layers.Dense(10, "relu")])
    conv, built = _round_trip(bare)
    assert conv.spec == "I: 8x8x3 C: p0 O: 10R" and not conv.rescales
    assert [name for name, _, _ in _table(built)] == ["Rescaling", "Flatten", "Dense"]
    flip = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.RandomFlip(), layers.Flatten(), layers.Dense(3, activation="softmax")]
    )
    assert _round_trip(flip)[0].spec == "I: 8x8x3 A: hvflip C: p0 O: 3"
    only_flip = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.RandomFlip("horizontal"),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    conv, _ = _round_trip(only_flip)
    assert conv.spec == "I: 8x8x3 A: flip C: p0 O: 3" and conv.rescales and conv.notes == []
    dropout = _seq(keras, layers.Rescaling(1 / 255), layers.Dropout(0.5), layers.Flatten(), layers.Dense(2, "softmax"))
    assert _round_trip(dropout)[0].spec == "I: 16x16x3 C: d½ O: 2"


def test_dropout_rates_come_back_exactly(keras):
    """A rate with no small fraction keeps every digit of its float; one with a small fraction is written as it."""
    from keras import layers

    model = _seq(
        keras,
        layers.Rescaling(1 / 255),
        layers.Dropout(0.009211952470906086),
        layers.Dropout(1 / 3),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(2, "softmax"),
    )
    assert _round_trip(model)[0].spec == "I: 16x16x3 C: d.009211952470906086 d⅓ d¼ O: 2"


# --- what the notation cannot express: the first such layer is named ----------------------------


def _cannot(model, layer: str | None, *needles: str) -> None:
    from cnnspec.errors import UserError
    from cnnspec.model.from_keras import NotExpressible, from_keras

    with pytest.raises(NotExpressible) as err:
        from_keras(model)
    assert err.value.layer == layer, str(err.value)
    # One of the error family: message (= str), hint and code, as every command prints them.
    assert isinstance(err.value, UserError) and err.value.message == str(err.value)
    assert err.value.code == "not-expressible" and err.value.reason in err.value.message
    for needle in needles:
        assert needle in str(err.value) or needle in (err.value.hint or ""), str(err.value)


def _seq(keras, *layers_, shape=(16, 16, 3)):
    return keras.Sequential([keras.Input(shape), *layers_])


def test_first_inexpressible_layer_is_named(keras):
    from keras import layers

    L = layers
    _cannot(
        _seq(keras, L.Conv2D(4, 3, dilation_rate=2, name="dil"), L.Activation("relu"), L.Flatten(), L.Dense(2)),
        "dil",
        "dilated",
    )
    _cannot(
        _seq(keras, L.Conv2D(4, 3, name="c"), L.LeakyReLU(name="leaky"), L.Flatten(), L.Dense(2)),
        "leaky",
        "LeakyReLU has no item",
    )
    _cannot(_seq(keras, L.Rescaling(1 / 127.5, offset=-1, name="r"), L.Flatten(), L.Dense(2)), "r", "1/255 only")
    _cannot(
        _seq(keras, L.Rescaling(1 / 255), L.RandomFlip(name="late"), L.Flatten(), L.Dense(2)),
        "late",
        "after Rescaling",
    )
    _cannot(
        _seq(keras, L.Conv2D(4, 3, name="c"), L.BatchNormalization(epsilon=1e-5, name="bn"), L.Flatten(), L.Dense(2)),
        "bn",
        "epsilon",
    )
    _cannot(_seq(keras, L.MaxPooling2D((2, 3), name="rect"), L.Flatten(), L.Dense(2)), "rect", "NxN")
    _cannot(_seq(keras, L.Flatten(), L.Dense(3, activation="sigmoid", name="multi")), "multi", "multi-label")
    _cannot(_seq(keras, L.Conv2D(4, 3, name="c"), L.Dense(2, name="d4")), "d4", "not flattened")
    _cannot(_seq(keras, L.Flatten(), L.Dense(2), L.Dropout(0.5, name="last")), "last", "Dense head")
    _cannot(
        _seq(keras, L.Flatten(), L.Dense(4, activation="softmax", name="sm"), L.Dense(2)),
        "sm",
        "'softmax' has no letter",
    )
    rot = L.RandomRotation(0.2, fill_mode="constant", name="rot")
    _cannot(_seq(keras, rot, L.Flatten(), L.Dense(2)), "rot", "fill_mode")
    _cannot(_seq(keras, L.Conv2D(4, 3, kernel_regularizer="l1", name="l1"), L.Flatten(), L.Dense(2)), "l1", "only L2")
    _cannot(_seq(keras, L.Flatten(), L.Dense(2), shape=(4, 4, 3, 1)), None, "HxWxC image")
    _cannot(keras.Sequential([keras.Input((8, 8, 3))]), None, "no layers")  # was an AttributeError
    _cannot(keras.Sequential([L.Flatten(), L.Dense(2)]), None, "never built")


def test_branches_that_are_no_residual_block_are_named(keras):
    """Two paths that meet in a Concatenate, or a 3x3 convolution on the shortcut, are not a block."""
    from keras import layers

    inp = keras.Input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", name="a")(inp)
    b = layers.Conv2D(4, 3, padding="same", name="b")(inp)
    x = layers.Add(name="add")([a, b])
    model = keras.Model(inp, layers.Dense(2)(layers.Flatten()(x)))
    _cannot(model, "b", "the projection on the shortcut of a residual block has kernel (3, 3) (1x1 expected)")
    x = layers.Concatenate(name="cat")([a, b])
    model = keras.Model(inp, layers.Dense(2)(layers.Flatten()(x)))
    _cannot(model, "cat", "a residual block adds them (Add)")


def test_cli_from_keras(keras, tmp_path):
    from typer.testing import CliRunner

    from cnnspec.cli import app

    _mnist_article_model(keras).save(tmp_path / "article.keras")
    res = CliRunner().invoke(app, ["from-keras", str(tmp_path / "article.keras")])
    assert res.exit_code == 0, res.output
    assert "I: 28x28x1 C: 32vn 32k5s2n d⅖ 64vn 64k5s2n d⅖ p0 D: 128Rn d⅖ O: 10" in res.output
    assert "note:" in res.output and "no Rescaling layer" in res.output
    res = CliRunner().invoke(app, ["check", str(tmp_path / "article.keras")])
    assert res.exit_code != 0 and "is a Keras model, not a spec" in res.output
    assert "hint:" in res.output and "cnnspec from-keras" in res.output
    res = CliRunner().invoke(app, ["from-keras", str(trained_run("gray"))])
    assert res.exit_code == 0 and res.output.strip() == "I: 24x24x1 A: flip C: 8L2=0.001 8 p3 d⅒ 16k5 gmp D: 8T O: 1"

    from keras import layers

    relu6 = layers.ReLU(max_value=6, name="relu6_layer")
    _seq(keras, layers.Conv2D(4, 3, name="c"), relu6, layers.Flatten(), layers.Dense(2)).save(tmp_path / "relu6.keras")
    res = CliRunner().invoke(app, ["from-keras", str(tmp_path / "relu6.keras")])
    assert res.exit_code == 1 and "relu6_layer" in res.output and "max_value=6" in res.output
    assert "Traceback" not in res.output
    (tmp_path / "junk.keras").write_bytes(b"junk")
    res = CliRunner().invoke(app, ["from-keras", str(tmp_path / "junk.keras")])
    assert res.exit_code == 1 and "cannot load" in res.output and "Traceback" not in res.output


# --- round trip over random specs: build, save, from-keras, build again -------------------------

ROUND_TRIP_N = 30
ROUND_TRIP_SEED = 121  # of seeds 0-399, the 30 specs that draw the most of specgen's features (v1 and v2)


def _network(model) -> list[tuple[str, dict, tuple, int]]:
    """Each layer's class, configuration (its name left out), output shape and parameters."""
    from cnnspec.model.from_keras import layers_of

    rows = []
    for layer in layers_of(model):
        cfg = {k: v for k, v in layer.get_config().items() if k != "name"}
        rows.append((type(layer).__name__, cfg, tuple(layer.output.shape), layer.count_params()))
    return rows


@pytest.mark.slow
def test_random_specs_round_trip_through_a_keras_file(keras, tmp_path):
    """A spec built, saved as .keras and read back by from-keras gives a spec that builds the same network."""
    import specgen

    import cnnspec
    from cnnspec.model.from_keras import convert

    for i, gen in enumerate(specgen.random_specs(ROUND_TRIP_N, ROUND_TRIP_SEED, max_side=24)):
        where = f"spec {i} (specgen.random_specs({ROUND_TRIP_N}, {ROUND_TRIP_SEED}, max_side=24)[{i}]): {gen.text!r}"
        original = cnnspec.build(cnnspec.parse(gen.text), gen.input_shape, gen.classes)
        path = tmp_path / f"{i}.keras"
        original.save(path)
        conv = convert(keras.saving.load_model(path))
        assert conv.rescales and conv.notes == [], where
        rebuilt = cnnspec.build(cnnspec.parse(conv.spec))
        assert _network(rebuilt) == _network(original), f"{where} came back as {conv.spec!r}"
        assert rebuilt.count_params() == original.count_params(), where
        keras.backend.clear_session()


# --- version 2: each rule of NOTATION.md "Model -> spec", by name --------------------------------


def _writes(model, expected: str, *notes: str):
    """``model`` is written as ``expected`` (proven inside convert), with a note holding each of ``notes``,
    and the spec's model has as many parameters as ``model``."""
    import cnnspec
    from cnnspec.model.from_keras import convert

    conv = convert(model)
    assert conv.spec == expected
    for needle in notes:
        assert any(needle in note for note in conv.notes), conv.notes
    assert cnnspec.build(cnnspec.parse(conv.spec)).count_params() == model.count_params()
    return conv


def _refuses(model, message: str) -> None:
    """``model`` is refused with exactly ``message`` and no hint (a hint must never alter the network, and
    every change that would let the notation write these models does)."""
    from cnnspec.model.from_keras import NotExpressible, from_keras

    with pytest.raises(NotExpressible) as err:
        from_keras(model)
    assert str(err.value) == message
    assert err.value.hint is None


def _r(keras, *layers_, shape=(16, 16, 3)):
    """A Sequential model of ``layers_`` after Rescaling(1/255)."""
    from keras import layers

    return _seq(keras, layers.Rescaling(1 / 255), *layers_, shape=shape)


def test_rule_linear_conv_then_an_activation_layer_is_I_then_a_bare_letter(keras):
    from keras import layers as L

    model = _r(keras, L.Conv2D(16, 3, padding="same"), L.Activation("relu"), L.Flatten(), L.Dense(2, "softmax"))
    _writes(model, "I: 16x16x3 C: 16I R p0 O: 2")


def test_rule_batchnorm_between_a_linear_layer_and_an_activation_is_b_and_B_without_bias(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.Conv2D(16, 3, padding="same"),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.Conv2D(16, 3, padding="same", use_bias=False),
        L.BatchNormalization(),
        L.ReLU(),
        L.Conv2D(8, 3, padding="same", use_bias=False),
        L.BatchNormalization(),  # no activation after it: B stays, written with I
        L.Conv2D(8, 3, padding="same"),
        L.BatchNormalization(),  # linear conv, batch norm, no activation: 16Ib is 16In
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(64),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.Dense(32, use_bias=False),
        L.BatchNormalization(),
        L.Activation("tanh"),
        L.Dense(10, activation="softmax"),
    )
    _writes(model, "I: 16x16x3 C: 16b 16B 8BI 8In p D: 64bR 32BT O: 10")


def test_rule_separable_is_sep_and_depthwise_is_dw_whose_keras_default_is_dwI(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.SeparableConv2D(32, 3, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, padding="same"),
        L.DepthwiseConv2D(5, strides=2, padding="same", use_bias=False),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.SeparableConv2D(
            16, 3, strides=2, padding="same", activation="swish", depthwise_regularizer="l2", pointwise_regularizer="l2"
        ),
        L.DepthwiseConv2D(3),
        L.GlobalAveragePooling2D(),
        L.Dense(3, activation="softmax"),
    )
    _writes(model, "I: 16x16x3 C: 32sep dwI dwk5s2B 16seps2WL2 dwvI gap O: 3")


def test_rule_strided_and_padded_pools_are_p3s2_and_p3s2z(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.MaxPooling2D(3, strides=2),
        L.MaxPooling2D(3, strides=2, padding="same"),
        L.AveragePooling2D(2, strides=1),
        L.AveragePooling2D(2, padding="same"),
        L.Flatten(),
        L.Dense(2, activation="softmax"),
        shape=(32, 32, 3),
    )
    _writes(model, "I: 32x32x3 C: 8 p3s2 p3s2z ap2s1 ap2z O: 2")


def test_rule_a_batchnorm_of_its_own_is_a_bare_n(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.BatchNormalization(),
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.BatchNormalization(),
        L.GlobalMaxPooling2D(),
        L.BatchNormalization(),  # after gmp: only dropouts follow it in C:, so D: starts with it
        L.Dense(8, activation="relu"),
        L.Dense(2, activation="softmax"),
    )
    _writes(model, "I: 16x16x3 C: n 8n n p n gmp D: n 8R O: 2")


def test_rule_activation_layers_of_their_own_are_bare_letters(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.Activation("tanh"),  # W507 warns, but it is the network
        L.MaxPooling2D(),
        L.ReLU(),
        L.ELU(alpha=1.0),
        L.Activation("gelu"),
        L.Flatten(),
        L.Activation("sigmoid"),
        L.Dense(2, activation="softmax"),
    )
    _writes(model, "I: 16x16x3 C: 8 T p R E G D: S O: 2")


def test_rule_relu6_leaky_relu_prelu_and_other_elu_are_refused(keras):
    from keras import layers as L

    def model(act):
        return _r(keras, L.Conv2D(8, 3, padding="same"), act, L.Flatten(), L.Dense(2))

    _refuses(
        model(L.ReLU(max_value=6, name="relu6")),
        "layer 'relu6': ReLU(max_value=6) has no letter: R is ReLU() with its default arguments",
    )
    _refuses(model(L.LeakyReLU(name="leaky")), "layer 'leaky': LeakyReLU has no item in the notation")
    _refuses(model(L.PReLU(name="prelu")), "layer 'prelu': PReLU has no item in the notation")
    _refuses(model(L.ELU(alpha=0.5, name="elu")), "layer 'elu': ELU(alpha=0.5) has no letter: E is ELU with alpha 1.0")
    _refuses(
        model(L.Activation("linear", name="lin")),
        "layer 'lin': Activation('linear') is an identity layer; the notation writes no such layer",
    )


def _basic_block(x, filters: int, stride: int = 1, *, swap: bool = False, padding: str = "same"):
    """The classic basic block (conv-BN-ReLU, conv-BN, add, ReLU), projecting the shortcut when it must."""
    from keras import layers as L

    y = L.Conv2D(filters, 3, strides=stride, padding="same")(x)
    y = L.BatchNormalization()(y)
    y = L.Activation("relu")(y)
    y = L.Conv2D(filters, 3, padding="same")(y)
    y = L.BatchNormalization()(y)
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, padding=padding)(x)
    y = L.Add()([shortcut, y] if swap else [y, shortcut])
    return L.Activation("relu")(y)


def test_rule_add_of_a_block_output_and_its_input_or_a_projection_is_a_block(keras):
    """Identity and projection shortcuts, both operand orders of Add, a "valid" 1x1 projection."""
    from keras import layers as L

    for swap in (False, True):
        inp = keras.Input((32, 32, 3))
        x = L.Rescaling(1 / 255)(inp)
        x = L.Conv2D(32, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = _basic_block(x, 32, swap=swap)
        x = _basic_block(x, 64, 2, swap=swap, padding="valid" if swap else "same")
        x = L.GlobalAveragePooling2D()(x)
        model = keras.Model(inp, L.Dense(10, activation="softmax")(x))
        conv = _writes(model, "I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10")
        assert conv.notes == []
    # NOTATION.md's example: 78,474 parameters, 448 of them non-trainable (held here against the Keras model).
    assert model.count_params() == 78_474
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 448


def test_rule_a_block_whose_add_is_not_followed_by_an_activation_is_plain_close(keras):
    from keras import layers as L

    inp = keras.Input((8, 8, 4))
    x = L.Rescaling(1 / 255)(inp)
    y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.Dropout(0.25)(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    y = L.MaxPooling2D(3, strides=2, padding="same")(y)
    y = L.SeparableConv2D(8, 3, padding="same", activation="relu")(y)
    x = L.Add()([y, L.Conv2D(8, 1, strides=2)(x)])
    x = L.Activation("tanh")(x)
    x = L.Flatten()(x)
    _writes(keras.Model(inp, L.Dense(2, activation="softmax")(x)), "I: 8x8x4 C: [4]+ d¼ [dw p3s2z 8sep]+T O: 2")


def test_rule_projections_the_notation_cannot_write_are_refused_naming_that_layer(keras):
    from keras import layers as L

    def model(shortcut, main_stride=2, extra=None):
        inp = keras.Input((16, 16, 3))
        x = L.Rescaling(1 / 255)(inp)
        y = L.Conv2D(8, 3, strides=main_stride, padding="same", activation="relu")(x)
        s = shortcut(x)
        if extra is not None:
            s = extra(s)
        x = L.Add(name="add")([y, s])
        return keras.Model(inp, L.Dense(2)(L.Flatten()(x)))

    _refuses(
        model(L.Conv2D(8, 1, strides=2, activation="relu", name="p")),
        "layer 'p': the projection on the shortcut of a residual block has activation 'relu' (linear expected)",
    )
    _refuses(
        model(L.Conv2D(8, 1, strides=2, kernel_regularizer="l2", name="p")),
        "layer 'p': the projection on the shortcut of a residual block has kernel_regularizer set "
        "(the projection has none)",
    )
    _refuses(
        model(L.Conv2D(8, 1, strides=2, name="p"), extra=L.BatchNormalization(name="pbn")),
        "layer 'pbn': BatchNormalization on the shortcut of a residual block after 'p': "
        "the notation's shortcut is the block's input or one 1x1 Conv2D of it",
    )
    # 9 -> 3 both ways (ceil(9/3) = ceil(9/4)), but the notation's projection has the block's stride, 3.
    inp = keras.Input((9, 9, 3))
    y = L.Conv2D(8, 1, strides=3, activation="relu")(inp)
    x = L.Add()([y, L.Conv2D(8, 1, strides=4, name="p")(inp)])
    _refuses(
        keras.Model(inp, L.Dense(2)(L.Flatten()(x))),
        "layer 'p': the projection on the shortcut of a residual block has strides (4, 4) while the block's "
        "stride is 3 (the product of its convolutions' and pools' strides)",
    )
    # A 1x1 convolution on the shortcut of a block that keeps its shape: the notation adds the input itself.
    inp = keras.Input((8, 8, 8))
    y = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = L.Add()([y, L.Conv2D(8, 1, name="p")(inp)])
    _refuses(
        keras.Model(inp, L.Dense(2)(L.Flatten()(x))),
        "layer 'p': a projection on the shortcut of a block that keeps its shape 8x8x8: "
        "the notation adds the block's input as it is",
    )


def test_rule_an_add_that_broadcasts_is_refused(keras):
    from keras import layers as L

    inp = keras.Input((8, 8, 1))
    x = L.Rescaling(1 / 255)(inp)
    y = L.Conv2D(16, 3, padding="same")(x)
    x = L.Add(name="add")([y, x])  # (8, 8, 16) + (8, 8, 1): Keras broadcasts the channel
    _refuses(
        keras.Model(inp, L.Dense(2)(L.Flatten()(x))),
        "layer 'add': Add of shapes 8x8x16 and 8x8x1 broadcasts; the notation adds two tensors of the same shape",
    )


def test_rule_a_last_dense_and_softmax_or_sigmoid_activation_is_the_head_compared_fused(keras):
    from keras import layers as L

    model = _r(
        keras,
        L.Flatten(),
        L.Dense(8, activation="relu"),
        L.Dense(10, name="logits"),
        L.Activation("softmax", name="probs"),
    )
    conv = _writes(
        model, "I: 16x16x3 D: 8R O: 10", "the proof that the spec builds the same network compared that pair fused"
    )
    assert conv.notes == [
        "the last Dense 'logits' and its Activation('softmax') 'probs' are the head O: 10, built as one Dense with "
        "softmax: the proof that the spec builds the same network compared that pair fused"
    ]
    binary = _r(keras, L.Flatten(), L.Dense(1, name="logit"), L.Activation("sigmoid", name="p"))
    _writes(binary, "I: 16x16x3 C: p0 O: 1", "'logit' and its Activation('sigmoid') 'p' are the head O: 1")
    # softmax on one unit, sigmoid on many: no head the notation has.
    _refuses(
        _r(keras, L.Flatten(), L.Dense(3), L.Activation("sigmoid", name="multi")),
        "layer 'multi': a sigmoid head of 3 units (multi-label) is not in the notation",
    )
    _refuses(
        _r(keras, L.Flatten(), L.Dense(1), L.Activation("softmax", name="sm")),
        "layer 'sm': activation 'softmax' has no letter (R T S E G W)",
    )


def test_rule_an_input_of_shape_h_w_is_hxwx1_with_a_note(keras):
    """The TensorFlow beginner quickstart: Flatten(input_shape=(28, 28)), Dense(128, relu), Dropout, Dense(10)."""
    from keras import layers as L

    model = _seq(keras, L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.2), L.Dense(10), shape=(28, 28))
    conv = _writes(model, "I: 28x28x1 D: 128R d⅕ O: 10I", "the spec's model takes (28, 28, 1) arrays")
    assert conv.notes[0] == "the model's input has shape (28, 28): the spec's model takes (28, 28, 1) arrays"


def test_rule_a_reshape_right_after_a_flat_input_is_the_image_input_with_a_note(keras):
    from keras import layers as L

    model = _seq(
        keras,
        L.Reshape((28, 28, 1)),
        L.Rescaling(1 / 255),
        L.Conv2D(8, 3, activation="relu"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(10, activation="softmax"),
        shape=(784,),
    )
    conv = _writes(model, "I: 28x28x1 C: 8v p O: 10")
    assert conv.notes == [
        "the model takes flat arrays of 784 values and reshapes them to (28, 28, 1): the spec's model takes images"
    ]


def test_rule_any_other_flat_input_is_1x1xN_with_the_note(keras):
    from keras import layers as L

    model = _seq(keras, L.Dense(16, activation="relu"), L.Dropout(0.5), L.Dense(3, activation="softmax"), shape=(20,))
    conv = _writes(model, "I: 1x1x20 D: 16R d½ O: 3")
    assert conv.notes[0] == (
        "the model's input is flat (20 values): the spec's model takes (1, 1, 20) arrays, flattens them, "
        "divides them by 255, and needs I: changed before training on images"
    )
    with_flatten = _seq(keras, L.Rescaling(1 / 255), L.Flatten(), L.Dense(3, activation="softmax"), shape=(20,))
    assert _writes(with_flatten, "I: 1x1x20 C: p0 O: 3").rescales


def test_rule_the_per_dimension_size_limit_holds_for_height_and_width_only(keras):
    """A flat input of 20,000 values (over the 16,384 limit of one dimension) is I: 1x1x20000."""
    from keras import layers as L

    import cnnspec
    from cnnspec.errors import SpecError
    from cnnspec.notation.ir import MAX_INPUT_DIM

    for big in (f"{MAX_INPUT_DIM + 1}x1x1", f"1x{MAX_INPUT_DIM + 1}x1"):  # height and width keep the limit
        with pytest.raises(SpecError) as err:
            cnnspec.parse(f"I: {big} C: 4")
        assert [d.code for d in err.value.diagnostics] == ["E163"]
    n = MAX_INPUT_DIM + 3616
    _writes(
        _seq(keras, L.Dense(4, activation="relu"), L.Dense(2, activation="softmax"), shape=(n,)),
        f"I: 1x1x{n} D: 4R O: 2",
    )


def test_refusals_name_the_first_layer_the_notation_cannot_write_and_why(keras):
    """Exact messages, and no hint: each change that would let the notation write the model alters the network."""
    from keras import layers as L

    _refuses(
        _r(keras, L.Conv2D(8, 3, use_bias=False, name="nobias"), L.Flatten(), L.Dense(2)),
        "layer 'nobias': use_bias=False with no BatchNormalization right after it: "
        "the notation drops the bias only before a batch norm (B)",
    )
    _refuses(
        _r(
            keras,
            L.Conv2D(8, 3, use_bias=False, activation="relu", name="nb"),
            L.BatchNormalization(),
            L.Flatten(),
            L.Dense(2),
        ),
        "layer 'nb': use_bias=False with activation 'relu': the notation drops the bias only as B, "
        "a linear layer, then its batch norm, then the activation",
    )
    _refuses(
        _r(keras, L.SeparableConv2D(8, 3, depth_multiplier=2, name="sep2"), L.Flatten(), L.Dense(2)),
        "layer 'sep2': depth_multiplier=2; sep and dw use 1",
    )
    _refuses(
        _r(keras, L.MaxPooling2D(1, strides=2, name="p1"), L.Flatten(), L.Dense(2)),
        "layer 'p1': MaxPooling2D(pool_size=(1, 1), strides=(2, 2)); the notation pools NxN with one stride, N >= 2",
    )
    _refuses(
        _r(keras, L.Conv2D(8, 3), L.Softmax(name="softmax_layer"), L.Flatten(), L.Dense(2)),
        "layer 'softmax_layer': Softmax has no item in the notation",
    )
    inp = keras.Input((8, 8, 8))
    y = L.Conv2D(8, 3, padding="same")(inp)
    y = L.Flatten(name="flat_in_block")(y)
    _refuses(
        keras.Model(inp, L.Dense(2)(L.Add()([y, L.Flatten()(inp)]))),
        "layer 'flat_in_block': Flatten inside a residual block: a block holds convolutions, pools, dropouts, "
        "batch normalizations and activations",
    )
    inp = keras.Input((8, 8, 8))
    y = L.Conv2D(8, 3, padding="same", name="outer")(inp)
    z = L.Add()([L.Conv2D(8, 3, padding="same")(y), y])  # a block inside the outer block's path
    x = L.Add()([z, inp])
    _refuses(
        keras.Model(inp, L.Dense(2)(L.Flatten()(x))),
        "layer 'outer': a residual block inside a residual block (the notation nests none)",
    )
    _refuses(
        _r(keras, L.RandomFlip(name="late"), L.Flatten(), L.Dense(2)),
        "layer 'late': RandomFlip after Rescaling: augmentation comes first, on 0-255 pixels",
    )


# --- version 2 round trips: spec -> Keras -> .keras -> from-keras -> the same network -----------------

#: Version-2 specs that use every new item (the normative examples of NOTATION.md among them), until the
#: random spec generator (tests/specgen.py) produces them.
V2_SPECS = [
    "I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10",
    "I: 32x32x3 C: 32s2B dwB 64k1B dws2B 128k1B p0 O: 10",
    "I: 32x32x3 C: 64 p3s2 128 p3s2z O: 10",
    "I: 16x16x3 C: 8 gap D: n 300Rn 100Rn O: 5",
    "I: 16x16x3 C: 32I n R 32I n R O: 3",
    "I: 16x16x3 C: 16 d¼ n 16 O: 2",
    "I: 28x28x1 C: [16 16]+ O: 10",
    "I: 24x24x3 C: [16sepb dw 16k1In]+R [32seps2 p3s2z 32k1I]+ ap3s2z 16sepT gmp d⅓ O: 1",
    "I: 20x20x3 A: flip C: 8k5s2vB R d⅕ [8 T d¼ 8I]+W dwk3x5s2vBT n p2s1 D: 16BR d½ 8bS O: 4",
    "I: 12x12x2 C: [dwI n E]+E [R 4sepL2=0.001 n]+ pz ap2z D: E 6IL2 O: 3I",
]


@pytest.mark.slow
def test_v2_specs_round_trip_through_a_keras_file(keras, tmp_path):
    """A version-2 spec built, saved as .keras and read back by from-keras gives a spec that builds the same
    network: every layer's class, configuration, output shape and parameters."""
    for i, text in enumerate(V2_SPECS):
        _round_trip_file(keras, text, tmp_path / f"{i}.keras")


def _round_trip_file(keras, text: str, path) -> str:
    """Build ``text``, save it at ``path``, read it back with from-keras: the spec builds the same network."""
    import cnnspec
    from cnnspec.model.from_keras import convert

    original = cnnspec.build(cnnspec.parse(text))
    original.save(path)
    conv = convert(keras.saving.load_model(path))
    assert conv.rescales and conv.notes == [], text
    rebuilt = cnnspec.build(cnnspec.parse(conv.spec))
    assert _network(rebuilt) == _network(original), f"{text!r} came back as {conv.spec!r}"
    assert rebuilt.count_params() == original.count_params()
    keras.backend.clear_session()
    return conv.spec


#: The version-2 examples: a small CIFAR-10 ResNet, a MobileNet-style and an Xception-style network.
V2_EXAMPLES = ["resnet_cifar10", "mobilenet_style", "xception_style"]


@pytest.mark.parametrize("name", V2_EXAMPLES)
def test_v2_examples_round_trip_in_canonical_form(keras, tmp_path, name):
    """Each example, built and saved, comes back from from-keras as the same network, written in the
    example's canonical form (but for from-keras' b/B, which the example spells out as bare items)."""
    from pathlib import Path

    import cnnspec
    from cnnspec.notation.formatter import format_spec

    path = Path(__file__).parent.parent / "examples" / f"{name}.cnn"
    text = format_spec(cnnspec.parse(path.read_text(encoding="utf-8")))
    # A batch norm between a linear layer and an activation layer is written b/B: the middle flow's
    # `256sepBI R` (separable conv, batch norm, ReLU) comes back as `256sepB`, the same layers.
    expected = text.replace("256sepBI R 256sepBI R", "256sepB 256sepB")
    assert _round_trip_file(keras, text, tmp_path / f"{name}.keras") == expected


# --- hand-written models in the style tutorials publish --------------------------------------------


def _keras_resnet_layer(x, filters: int, kernel: int = 3, strides: int = 1, activation=True, bn=True, l2=1e-4):
    """keras.io's CIFAR-10 ResNet (v1) ``resnet_layer``: conv, then batch norm, then the activation."""
    from keras import layers as L
    from keras import regularizers

    reg = regularizers.L2(l2) if l2 else None
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal",
                 kernel_regularizer=reg)(x)  # fmt: skip
    if bn:
        x = L.BatchNormalization()(x)
    if activation:
        x = L.Activation("relu")(x)
    return x


def _keras_resnet8(keras, projection_l2: float | None = None):
    """keras.io's ResNet v1 of depth 8 (one basic block per stack) on 32x32x3, the data divided by 255
    beforehand; its shortcut projections are 1x1 convolutions with no batch norm and no activation."""
    from keras import layers as L

    inputs = keras.Input((32, 32, 3))
    x = _keras_resnet_layer(inputs, 16)
    filters = 16
    for stack in range(3):
        strides = 2 if stack > 0 else 1
        y = _keras_resnet_layer(x, filters, strides=strides)
        y = _keras_resnet_layer(y, filters, activation=False)
        if stack > 0:
            x = _keras_resnet_layer(x, filters, kernel=1, strides=strides, activation=False, bn=False, l2=projection_l2)
        x = L.Activation("relu")(L.add([x, y]))
        filters *= 2
    x = L.AveragePooling2D(pool_size=8)(x)
    outputs = L.Dense(10, activation="softmax", kernel_initializer="he_normal")(L.Flatten()(x))
    return keras.Model(inputs, outputs)


def test_keras_example_resnet_with_bn_before_relu_and_projections(keras):
    block = "{f}s2bL2=0.0001 {f}InL2=0.0001]+R"
    expected = (
        "I: 32x32x3 C: 16bL2=0.0001 [16bL2=0.0001 16InL2=0.0001]+R ["
        + block.format(f=32)
        + " ["
        + block.format(f=64)
        + " ap8 O: 10"
    )
    conv = _writes(_keras_resnet8(keras), expected, "no Rescaling layer")
    assert len(conv.notes) == 1
    # As published, the projection carries the L2 of every resnet_layer: the notation's has none.
    from cnnspec.model.from_keras import NotExpressible, from_keras

    with pytest.raises(NotExpressible) as err:
        from_keras(_keras_resnet8(keras, projection_l2=1e-4))
    assert "the projection on the shortcut of a residual block has kernel_regularizer set" in str(err.value)


def _mobilenet_style(keras, relu):
    """The MobileNet pattern: a strided stem, then depthwise and pointwise convolutions without biases,
    each followed by batch norm and ReLU, then global pooling and a softmax head."""
    from keras import layers as L

    inputs = keras.Input((32, 32, 3))
    x = L.Rescaling(1 / 255)(inputs)
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
    x = relu()(L.BatchNormalization()(x))
    for filters, stride in ((64, 1), (128, 2), (128, 1)):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = relu()(L.BatchNormalization()(x))
        x = L.Conv2D(filters, 1, padding="same", use_bias=False)(x)
        x = relu()(L.BatchNormalization()(x))
    x = L.Dropout(1e-3)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))


def test_mobilenet_style_stack(keras):
    from keras import layers as L

    expected = "I: 32x32x3 C: 32s2B dwB 64k1B dws2B 128k1B dwB 128k1B gap d.001 O: 10"
    assert _writes(_mobilenet_style(keras, L.ReLU), expected).notes == []
    # Keras' own MobileNet uses ReLU(6.): refused, naming the first one.
    _refuses(
        _mobilenet_style(keras, lambda: L.ReLU(6.0, name=f"relu6_{keras.backend.get_uid('relu6')}")),
        "layer 'relu6_1': ReLU(max_value=6) has no letter: R is ReLU() with its default arguments",
    )


def test_keras_example_xception_style_blocks(keras):
    """keras.io's "Image classification from scratch": blocks of ReLU, separable conv, BN (twice) and a
    "same" strided max-pool, added to a strided 1x1 projection of the block's input; logits head."""
    from keras import layers as L

    inputs = keras.Input((32, 32, 3))
    x = L.Rescaling(1.0 / 255)(inputs)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    previous_block_activation = x
    for size in (16, 32):
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(size, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = L.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = L.add([x, residual])
        previous_block_activation = x
    x = L.SeparableConv2D(64, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.25)(x)
    model = keras.Model(inputs, L.Dense(1, activation=None)(x))
    expected = "I: 32x32x3 C: 16s2b [R 16sepb 16sepIn p3s2z]+ [R 32sepb 32sepIn p3s2z]+ 64sepb gap d¼ O: 1I"
    assert _writes(model, expected).notes == []


def test_cli_from_keras_prints_the_v2_spec_and_its_notes(keras, tmp_path):
    """`cnnspec from-keras` of a saved functional model with blocks and a Dense + softmax head."""
    from typer.testing import CliRunner

    from cnnspec.cli import app

    text = "I: 16x16x3 C: 8b [8b 8In]+R [16s2b 16In]+R gap O: 3"
    from keras import layers as L

    inputs = keras.Input((16, 16, 3))
    x = L.Rescaling(1 / 255)(inputs)
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(x)))
    x = _basic_block(x, 8)
    x = _basic_block(x, 16, 2)
    x = L.Dense(3, name="logits")(L.GlobalAveragePooling2D()(x))
    keras.Model(inputs, L.Activation("softmax", name="probs")(x)).save(tmp_path / "resnet.keras")
    res = CliRunner().invoke(app, ["from-keras", str(tmp_path / "resnet.keras")])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == text
    assert "note:" in res.output and "compared that pair fused" in res.output


def test_a_block_with_no_convolution_is_refused_and_a_nested_model_with_a_block_is_opened(keras):
    from keras import layers as L

    inp = keras.Input((8, 8, 4))
    x = L.Add(name="bn_add")([L.BatchNormalization()(inp), inp])
    _refuses(keras.Model(inp, L.Dense(2)(L.Flatten()(x))), "layer 'bn_add': a residual block with no convolution")
    # A functional model holding a block, used as a layer of a Sequential model: opened up in place.
    inner_in = keras.Input((8, 8, 4))
    y = L.Conv2D(4, 3, padding="same", activation="relu")(inner_in)
    inner = keras.Model(inner_in, L.Activation("relu")(L.Add()([inner_in, y])), name="inner")
    model = _r(keras, inner, L.Flatten(), L.Dense(2, activation="softmax"), shape=(8, 8, 4))
    _writes(model, "I: 8x8x4 C: [4]+R O: 2")


def test_pre_activation_resnet_blocks(keras):
    """ResNet v2 (He et al., 2016b) as tutorials write it: batch norm and ReLU before each convolution; the
    first block projects the pre-activated input (so the block starts after it), the second adds its input."""
    from keras import layers as L

    inputs = keras.Input((16, 16, 3))
    x = L.Rescaling(1 / 255)(inputs)
    x = L.Conv2D(16, 3, padding="same")(x)
    pre = L.Activation("relu")(L.BatchNormalization()(x))
    y = L.Conv2D(32, 3, strides=2, padding="same")(pre)
    y = L.Activation("relu")(L.BatchNormalization()(y))
    y = L.Conv2D(32, 3, padding="same")(y)
    x = L.Add()([y, L.Conv2D(32, 1, strides=2)(pre)])
    y = L.Activation("relu")(L.BatchNormalization()(x))
    y = L.Conv2D(32, 3, padding="same")(y)
    y = L.Activation("relu")(L.BatchNormalization()(y))
    y = L.Conv2D(32, 3, padding="same")(y)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(L.Activation("relu")(L.BatchNormalization()(x)))
    model = keras.Model(inputs, L.Dense(10, activation="softmax")(x))
    _writes(model, "I: 16x16x3 C: 16b [32s2b 32I]+ [n R 32b 32I]+ n R gap O: 10")
