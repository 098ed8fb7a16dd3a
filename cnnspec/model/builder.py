"""Spec -> ``keras.Model``, using only ``keras.*`` so any Keras 3 backend runs it.

The model takes raw 0-255 pixels: augmentation (training only), then
rescaling by 1/255, then the layers of the spec.  Layer names match the
checker's (``conv1``, ``conv1_bn``, ``pool1``, ``dense1``, ``head``), so a
row of ``cnnspec check`` and a row of ``model.summary()`` line up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnspec.errors import Diagnostic, SpecError
from cnnspec.network.shapes import Shape, parse_shape
from cnnspec.notation.ir import (
    KERAS_ACTIVATIONS,
    Augment,
    Conv,
    Dense,
    Dropout,
    GlobalPool,
    Head,
    NoPool,
    Pool,
    Span,
    Spec,
)
from cnnspec.notation.vocabulary import AUGMENTATIONS, GLOBAL_POOL_CLASSES, POOL_CLASSES

if TYPE_CHECKING:
    import keras


def augment_layer(aug: Augment, seed: int | None) -> Any:
    from keras import layers

    name = f"aug_{aug.name}"
    kind = AUGMENTATIONS[aug.name]
    cls = getattr(layers, kind.keras_class)
    if kind.flip_mode is not None:
        return cls(kind.flip_mode, seed=seed, name=name)
    f = aug.factor
    assert f is not None
    if kind.keras_class == "RandomTranslation":
        return cls(f, f, seed=seed, name=name)
    if kind.keras_class in ("RandomContrast", "RandomBrightness"):
        # Both clip to value_range; the augmentation runs before rescaling,
        # on 0-255 pixels.
        return cls(f, value_range=(0, 255), seed=seed, name=name)
    return cls(f, seed=seed, name=name)


def _regularizer(l2: float | None) -> Any:
    if l2 is None:
        return None
    from keras import regularizers

    return regularizers.L2(l2)


def build(
    spec: Spec,
    input_shape: Shape | str | None = None,
    classes: int | None = None,
    *,
    seed: int | None = None,
) -> keras.Model:
    """Build the Keras model of ``spec``.

    ``input_shape`` and ``classes`` stand in for a missing ``I:`` / ``O:``.
    Raises :class:`~cnnspec.errors.SpecError` when the spec cannot be built
    (no input shape, no class count, or a network that the checker rejects).

    >>> from cnnspec import parse
    >>> build(parse("I: 28x28x1 C: 8 D: 10")).count_params()  # doctest: +SKIP
    15770
    """
    from cnnspec.network.checker import check

    checked = check(spec, input_shape, classes)
    if checked.errors:
        raise SpecError(list(checked.errors), spec.source)
    if checked.classes is None:
        raise SpecError(
            [
                Diagnostic(
                    code="E405",
                    message="no class count: the spec has no O: and none was given",
                    hint="write O: 10 or pass classes=10 (--classes 10)",
                    origin=spec.origin,
                    spec=spec.name,
                )
            ],
            spec.source,
        )
    assert checked.input_shape is not None
    return _build_model(spec, checked.input_shape, checked.classes, seed)


def _build_model(spec: Spec, shape: Shape, classes: int, seed: int | None) -> keras.Model:
    import keras
    from keras import layers

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for aug in spec.augment or ():
        x = augment_layer(aug, seed)(x)
    x = layers.Rescaling(1.0 / 255, name="rescaling")(x)

    counters = {"conv": 0, "pool": 0, "dropout": 0, "dense": 0}

    def dropout(item: Dropout, x: Any) -> Any:
        counters["dropout"] += 1
        return layers.Dropout(float(item.rate), seed=seed, name=f"dropout{counters['dropout']}")(x)

    for item in spec.conv or ():
        if isinstance(item, Conv):
            counters["conv"] += 1
            name = f"conv{counters['conv']}"
            x = layers.Conv2D(
                item.filters,
                item.kernel,
                strides=item.stride,
                padding=item.padding,
                activation=KERAS_ACTIVATIONS[item.activation],
                kernel_regularizer=_regularizer(item.l2),
                data_format="channels_last",
                name=name,
            )(x)
            if item.batchnorm:
                x = layers.BatchNormalization(name=f"{name}_bn")(x)
        elif isinstance(item, Pool):
            counters["pool"] += 1
            cls = getattr(layers, POOL_CLASSES[item.op])
            x = cls(
                pool_size=item.size,
                strides=item.size,
                padding="valid",
                data_format="channels_last",
                name=f"pool{counters['pool']}",
            )(x)
        elif isinstance(item, GlobalPool):
            cls = getattr(layers, GLOBAL_POOL_CLASSES[item.op])
            x = cls(data_format="channels_last", name="gap" if item.op == "avg" else "gmp")(x)
        elif isinstance(item, Dropout):
            x = dropout(item, x)
        else:
            assert isinstance(item, NoPool)
    if len(x.shape) > 2:
        x = layers.Flatten(name="flatten")(x)
    for d in spec.dense or ():
        if isinstance(d, Dense):
            counters["dense"] += 1
            name = f"dense{counters['dense']}"
            x = layers.Dense(
                d.units,
                activation=KERAS_ACTIVATIONS[d.activation],
                kernel_regularizer=_regularizer(d.l2),
                name=name,
            )(x)
            if d.batchnorm:
                x = layers.BatchNormalization(name=f"{name}_bn")(x)
        else:
            x = dropout(d, x)
    head = spec.head or Head(span=Span(line=1, column=1), text=str(classes), classes=classes)
    outputs = layers.Dense(
        head.classes,
        activation=head.keras_activation,
        kernel_regularizer=_regularizer(head.l2),
        # With --mixed-precision the body computes in float16; the head stays
        # float32 so the softmax and the loss do not lose precision (Keras'
        # mixed-precision advice).  Under the default policy this is a no-op.
        dtype="float32",
        name="head",
    )(x)
    return keras.Model(inputs, outputs, name=_model_name(spec))


def _model_name(spec: Spec) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in (spec.name or "cnnspec"))


__all__ = ["build", "parse_shape"]
