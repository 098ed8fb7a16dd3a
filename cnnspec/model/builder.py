"""CheckedSpec -> ``keras.Model``, using only ``keras.*`` so any Keras 3 backend runs it.

:func:`build` checks the spec, then walks the checked layers
(:attr:`CheckedSpec.layers <cnnspec.network.checker.CheckedSpec.layers>`) and
makes one Keras layer of each, from its typed fields.  The checker decides the
names, the order and the implied pools; this module only says how each kind
of layer is made, one handler per Keras class.  So a row of ``cnnspec check``
and a row of ``model.summary()`` line up by construction.

The model takes raw 0-255 pixels: augmentation (training only), then
rescaling by 1/255, then the layers of the spec.  It is a chain except at a
residual block (version 2): the block's input is kept, projected by the row
the checker lists when the shapes differ, and added to the block's output,
``Add()([block output, shortcut])``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnnspec.errors import Diagnostic, SpecError
from cnnspec.network.checker import CheckedSpec, Layer, check
from cnnspec.network.shapes import Shape, parse_shape
from cnnspec.notation.ir import Augment, Head, Spec
from cnnspec.notation.vocabulary import AUGMENT_CLASSES, AUGMENTATIONS, GLOBAL_POOL_CLASSES, POOL_CLASSES

if TYPE_CHECKING:
    import keras


def augment_layer(aug: Augment, seed: int | None) -> Any:
    """The Keras layer of one ``A:`` item (named ``aug_<name>``, as the checker names it)."""
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
    return build_checked(checked, seed=seed)


def build_checked(checked: CheckedSpec, *, seed: int | None = None) -> keras.Model:
    """The Keras model of a valid checked spec with a head: one Keras layer per checked layer."""
    import keras
    from keras import layers

    assert checked.ok and checked.input_shape is not None and checked.classes is not None
    inputs = keras.Input(shape=checked.input_shape, name="image")
    x = inputs
    # A residual block is the one place the graph branches: its input (the
    # tensor before its first layer) is kept, projected when the checker
    # listed a projection, and added to the block's output.
    block_inputs: dict[int, Any] = {}
    shortcut: Any = None
    for layer in checked.layers:
        if layer.block is not None and layer.block not in block_inputs:
            block_inputs[layer.block] = x
        make = _HANDLERS[layer.kind](layers, layer, seed)
        if layer.role == "projection":
            assert layer.block is not None
            shortcut = make(block_inputs[layer.block])
        elif layer.role == "add":
            assert layer.block is not None
            x = make([x, shortcut if layer.shortcut == "projection" else block_inputs[layer.block]])
        else:
            x = make(x)
    return keras.Model(inputs, x, name=_model_name(checked.spec))


# Each handler makes the Keras layer of one checked layer from its typed fields.
# ``L`` is ``keras.layers``, passed in so that keras is imported once, by build.
Handler = Callable[[Any, Layer, "int | None"], Any]


def _augment(L: Any, layer: Layer, seed: int | None) -> Any:
    assert isinstance(layer.item, Augment)
    return augment_layer(layer.item, seed)


def _rescaling(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.Rescaling(1.0 / 255, name=layer.name)


def _window(layer: Layer) -> dict[str, Any]:
    """What a Conv2D, a SeparableConv2D and a DepthwiseConv2D are configured with alike."""
    return {
        "strides": layer.stride,
        "padding": layer.padding,
        "activation": layer.activation,
        "use_bias": layer.use_bias,
        "data_format": "channels_last",
        "name": layer.name,
    }


def _conv(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.Conv2D(layer.output_shape[-1], layer.kernel, kernel_regularizer=_regularizer(layer.l2), **_window(layer))


def _separable(L: Any, layer: Layer, seed: int | None) -> Any:
    # L2 regularizes both kernels (NOTATION.md: "sets both").
    return L.SeparableConv2D(
        layer.output_shape[-1],
        layer.kernel,
        depth_multiplier=1,
        depthwise_regularizer=_regularizer(layer.l2),
        pointwise_regularizer=_regularizer(layer.l2),
        **_window(layer),
    )


def _depthwise(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.DepthwiseConv2D(
        layer.kernel, depth_multiplier=1, depthwise_regularizer=_regularizer(layer.l2), **_window(layer)
    )


def _batchnorm(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.BatchNormalization(name=layer.name)


def _activation(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.Activation(layer.activation, name=layer.name)


def _add(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.Add(name=layer.name)


def _pool(L: Any, layer: Layer, seed: int | None) -> Any:
    return getattr(L, layer.kind)(
        pool_size=layer.pool_size,
        strides=layer.pool_stride,
        padding=layer.pool_padding,
        data_format="channels_last",
        name=layer.name,
    )


def _global_pool(L: Any, layer: Layer, seed: int | None) -> Any:
    return getattr(L, layer.kind)(data_format="channels_last", name=layer.name)


def _dropout(L: Any, layer: Layer, seed: int | None) -> Any:
    assert layer.rate is not None
    return L.Dropout(float(layer.rate), seed=seed, name=layer.name)


def _flatten(L: Any, layer: Layer, seed: int | None) -> Any:
    return L.Flatten(name=layer.name)


def _dense(L: Any, layer: Layer, seed: int | None) -> Any:
    # With --mixed-precision the body computes in float16; the head stays
    # float32 so the softmax and the loss do not lose precision (Keras'
    # mixed-precision advice).  Under the default policy this is a no-op.
    head = {"dtype": "float32"} if isinstance(layer.item, Head) else {}
    return L.Dense(
        layer.output_shape[-1],
        activation=layer.activation,
        use_bias=layer.use_bias,
        kernel_regularizer=_regularizer(layer.l2),
        name=layer.name,
        **head,
    )


#: Keras class of a checked layer -> the handler that makes it.
_HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(AUGMENT_CLASSES, _augment),
    "Rescaling": _rescaling,
    "Conv2D": _conv,
    "SeparableConv2D": _separable,
    "DepthwiseConv2D": _depthwise,
    "BatchNormalization": _batchnorm,
    "Activation": _activation,
    "Add": _add,
    **dict.fromkeys(POOL_CLASSES.values(), _pool),
    **dict.fromkeys(GLOBAL_POOL_CLASSES.values(), _global_pool),
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Dense": _dense,
}


def _model_name(spec: Spec) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in (spec.name or "cnnspec"))


__all__ = ["augment_layer", "build", "build_checked", "parse_shape"]
