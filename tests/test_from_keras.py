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
        "move the augmentation",
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

ROUND_TRIP_N = 20
ROUND_TRIP_SEED = 19  # chosen so that 20 specs use every layer kind and modifier (test_oracle uses 0)


def _network(model) -> list[tuple[str, dict, tuple, int]]:
    """Each layer's class, configuration (its name left out), output shape and parameters."""
    from cnnspec.model.from_keras import layers_of

    rows = []
    for layer in layers_of(model):
        cfg = {k: v for k, v in layer.get_config().items() if k != "name"}
        rows.append((type(layer).__name__, cfg, tuple(layer.output.shape), layer.count_params()))
    return rows


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
