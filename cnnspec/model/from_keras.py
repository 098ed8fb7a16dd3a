"""A Keras model -> spec text in the notation, when the notation can express it.

Handles Sequential models and functional models that are a single chain of
layers (nested Sequential blocks, like the articles' ``data_augmentation``,
are opened up): ``Random*`` augmentation before ``Rescaling(1/255)``,
``Conv2D`` (activation, kernel, stride, padding, L2) with an optional
``BatchNormalization`` right after it (``n``), max / average pools, global
pools, ``Dropout``, ``Flatten``, ``Dense`` and a final ``Dense`` head.

Every answer is proven: the spec is built again with :func:`cnnspec.build`
and compared with the model layer by layer (class, output shape, parameters
and configuration).  The first layer that cannot be expressed is named in
:class:`NotExpressible`.

**Rescaling.** A cnnspec model always takes raw 0-255 pixels and rescales by
1/255 itself.  A model without a ``Rescaling`` layer (the articles often
divide the data by 255 beforehand) is still described - its spec is the
same network - with a note: the built model has one more layer,
``rescaling``, and wants raw pixels.  Any other rescaling (``1/127.5``, an
offset) cannot be expressed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cnnspec.errors import UserError
from cnnspec.notation.ir import Augment, Conv, Dense, Dropout, GlobalPool, Head, InputShape, NoPool, Pool, Span, Spec
from cnnspec.notation.vocabulary import (
    ACTIVATION_BY_KERAS_NAME,
    AUGMENT_CLASSES,
    AUGMENTATIONS,
    FLIP_BY_MODE,
    GLOBAL_POOL_CLASSES,
    POOL_CLASSES,
)

if TYPE_CHECKING:
    import keras

#: Keras activation name -> letter (Keras 3 calls swish ``silu``).
LETTERS = ACTIVATION_BY_KERAS_NAME
#: Keras class -> the augmentation with a factor it stands for (the flips go by mode).
_FACTOR_AUGMENTS = {a.keras_class: a for a in AUGMENTATIONS.values() if a.factor_key is not None}
#: Keras class -> pool op, for the pools and the global pools.
_POOL_OPS = {cls: op for op, cls in POOL_CLASSES.items()}
_GLOBAL_POOL_OPS = {cls: op for op, cls in GLOBAL_POOL_CLASSES.items()}
#: Config keys that do not change the network a spec describes.
_IGNORED_KEYS = {"name", "trainable", "dtype", "seed", "batch_shape", "batch_input_shape", "input_shape"}
#: BatchNormalization settings that ``n`` builds.
_BN_DEFAULTS = {"axis": -1, "epsilon": 0.001, "center": True, "scale": True, "momentum": 0.99}
#: Layers that only apply an activation: the hint says where the activation goes instead.
_ACTIVATION_LAYERS = {"Activation", "ReLU", "ELU", "Softmax", "LeakyReLU"}
#: Every node here is read from a Keras model, not from text: it points nowhere (Span.invented).
_SPAN = Span.invented("the Keras model")


class NotExpressible(UserError, ValueError):
    """The model has a layer (or a structure) the notation cannot write; ``layer`` names it.

    A :class:`~cnnspec.errors.UserError` (``message`` is ``str()``, plus ``hint`` and ``code``);
    still a ``ValueError`` for callers written before the error family.
    """

    code = "not-expressible"

    def __init__(self, layer: str | None, reason: str, hint: str | None = None) -> None:
        self.layer = layer
        self.reason = reason
        super().__init__(f"layer '{layer}': {reason}" if layer else reason, hint)


@dataclass
class Conversion:
    spec: str
    notes: list[str] = field(default_factory=list)
    #: True when the model has its own Rescaling(1/255) layer.
    rescales: bool = True


def from_keras(model: keras.Model) -> str:
    """Spec text of ``model``; raises :class:`NotExpressible` naming the first layer it cannot express.

    >>> from_keras(keras.Sequential([...]))  # doctest: +SKIP
    'I: 28x28x1 C: 32 p D: 128R O: 10'
    """
    return convert(model).spec


def layers_of(model: keras.Model) -> list[Any]:
    """The model's layers in order, nested models opened up, input layers left out.

    Raises :class:`NotExpressible` unless the model is a single chain.
    """
    import keras

    out: list[Any] = []
    if not isinstance(model, keras.Sequential):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise NotExpressible(None, f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
        expected = model.inputs[0]
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            try:
                inp = layer.input
            except (AttributeError, ValueError):
                raise NotExpressible(layer.name, "it is used more than once (a shared layer)") from None
            if inp is not expected:
                raise NotExpressible(layer.name, "the model is not a single chain of layers (a branch or a merge)")
            expected = layer.output
        if expected is not model.outputs[0]:
            raise NotExpressible(None, "the model's output is not its last layer's output")
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(layers_of(layer))
        else:
            out.append(layer)
    return out


def convert(model: keras.Model) -> Conversion:
    """The spec of ``model`` and notes about it (see the module docstring); proven by a rebuild.

    One handler per Keras class (:data:`_HANDLERS`) reads each layer of the chain into the
    spec's items; the first layer that no handler accepts is named in :class:`NotExpressible`.
    """
    import keras

    chain = _Chain(layers_of(model))
    try:
        inputs = model.inputs
    except AttributeError:  # Keras: a Sequential model with no layers "has no defined inputs yet"
        raise NotExpressible(None, "the model has no layers: the notation ends with a Dense head (O:)") from None
    shape = tuple(inputs[0].shape[1:]) if inputs else ()
    if len(shape) != 3 or any(d is None for d in shape):
        raise NotExpressible(None, f"the model's input has shape {shape}; the notation's input is an HxWxC image")
    for i, layer in enumerate(chain.layers):
        kind = type(layer).__name__
        if chain.head is not None:
            raise NotExpressible(layer.name, f"{kind} after the head: the notation ends with the Dense head")
        # Only the layer right after a Conv2D or Dense may be the BatchNormalization that joins it.
        chain.bn_target, chain.last_item = chain.last_item, None
        _HANDLERS.get(kind, _other)(chain, i, layer)
    spec = chain.spec(*(int(d) for d in shape))
    from cnnspec.notation.formatter import format_spec

    text = format_spec(spec)
    rescales = chain.rescaling is not None
    _verify(text, chain.layers, rescales, keras)
    notes = []
    if not rescales:
        notes.append(
            "the model has no Rescaling layer, so it wants inputs scaled the way its training data was; "
            "the spec describes the same network taking raw 0-255 pixels: a model built from it "
            "adds Rescaling(1/255) (layer 'rescaling')"
        )
    return Conversion(spec=text, notes=notes, rescales=rescales)


@dataclass
class _Chain:
    """The walk over a model's layers: where it stands, and the spec's items read so far."""

    layers: list[Any]
    augment: list[Augment] = field(default_factory=list)
    conv: list[Any] = field(default_factory=list)
    dense: list[Any] = field(default_factory=list)
    head: Head | None = None
    rescaling: Any = None
    flat: bool = False  # the feature map has been flattened (Flatten, gap or gmp)
    section: str = "A"  # A (before rescaling), C, D
    #: The Conv2D / Dense item just read (its list and index), which a BatchNormalization may join ...
    last_item: tuple[list[Any], int] | None = None
    #: ... and the one read just before the current layer.
    bn_target: tuple[list[Any], int] | None = None

    def enter_conv(self) -> None:
        """A layer that belongs to C: (a layer before it, if any, was augmentation)."""
        self.section = "C" if self.section == "A" else self.section

    def need_map(self, layer: Any, kind: str) -> None:
        """Refuse a layer that needs a feature map once the map was flattened."""
        if self.flat or self.section == "D":
            raise NotExpressible(layer.name, f"{kind} after the feature map was flattened")

    def spec(self, h: int, w: int, c: int) -> Spec:
        """The spec of the whole chain, once every layer was read."""
        if self.head is None:
            name = self.layers[-1].name if self.layers else None
            raise NotExpressible(name, "the model does not end with a Dense head (O:)")
        conv = self.conv
        if conv and not any(isinstance(x, (Pool, GlobalPool)) for x in conv) and any(isinstance(x, Conv) for x in conv):
            conv.append(NoPool(span=_SPAN))  # plain convolutions: no implied pools
        if not conv and not self.dense:
            # Flatten then the head: a spec needs C: or D:, and `C: p0` is a C: section that adds no layer.
            conv.append(NoPool(span=_SPAN))
        return Spec(
            input=InputShape(span=_SPAN, text=f"{h}x{w}x{c}", height=h, width=w, channels=c),
            augment=tuple(self.augment) or None,
            conv=tuple(conv) or None,
            dense=tuple(self.dense) or None,
            head=self.head,
        )


# --- one handler per Keras class: (chain, index of the layer in it, layer) -------------------------


def _augmentation(chain: _Chain, i: int, layer: Any) -> None:
    kind = type(layer).__name__
    if chain.section != "A":
        where = "after Rescaling" if chain.rescaling is not None else f"after '{chain.layers[i - 1].name}'"
        raise NotExpressible(
            layer.name,
            f"{kind} {where}: augmentation comes first, on 0-255 pixels",
            hint="move the augmentation layers before Rescaling",
        )
    chain.augment.append(_augment(layer))


def _rescaling(chain: _Chain, i: int, layer: Any) -> None:
    cfg = layer.get_config()
    if chain.section != "A" or chain.rescaling is not None:
        raise NotExpressible(layer.name, "Rescaling after the first layers: the notation rescales only the input")
    if abs(float(cfg["scale"]) - 1 / 255) > 1e-9 or float(cfg["offset"]) != 0:
        raise NotExpressible(
            layer.name,
            f"Rescaling(scale={cfg['scale']}, offset={cfg['offset']}); the notation rescales by 1/255 only",
        )
    chain.rescaling, chain.section = layer, "C"


def _conv2d(chain: _Chain, i: int, layer: Any) -> None:
    chain.enter_conv()
    chain.need_map(layer, "Conv2D")
    _common_checks(layer)
    cfg = layer.get_config()
    sh, sw = cfg["strides"]
    if sh != sw:
        raise NotExpressible(layer.name, f"strides {cfg['strides']}; the notation has one stride (s2)")
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg["groups"] != 1:
        raise NotExpressible(layer.name, "dilated or grouped convolution")
    if cfg["data_format"] != "channels_last":
        raise NotExpressible(layer.name, "data_format channels_first; cnnspec is channels_last")
    kh, kw = cfg["kernel_size"]
    chain.conv.append(
        Conv(
            span=_SPAN,
            filters=int(cfg["filters"]),
            kernel=(int(kh), int(kw)),
            stride=int(sh),
            padding=cfg["padding"],
            activation=_letter(layer),  # type: ignore[arg-type]
            l2=_l2(layer),
        )
    )
    chain.last_item = (chain.conv, len(chain.conv) - 1)


def _batchnorm(chain: _Chain, i: int, layer: Any) -> None:
    if chain.bn_target is None:
        raise NotExpressible(
            layer.name, "BatchNormalization not right after a Conv2D or Dense (the notation's n follows one)"
        )
    cfg = layer.get_config()
    for key, value in _BN_DEFAULTS.items():
        got = cfg[key][0] if key == "axis" and isinstance(cfg[key], list) else cfg[key]
        if key == "axis" and got == len(layer.input.shape) - 1:
            got = -1
        if got != value:
            raise NotExpressible(layer.name, f"BatchNormalization({key}={cfg[key]!r}); n uses {key}={value!r}")
    items, idx = chain.bn_target
    items[idx] = items[idx].model_copy(update={"batchnorm": True})


def _pooling(chain: _Chain, i: int, layer: Any) -> None:
    kind = type(layer).__name__
    chain.need_map(layer, kind)
    chain.enter_conv()
    cfg = layer.get_config()
    ph, pw = cfg["pool_size"]
    strides = tuple(cfg["strides"] or cfg["pool_size"])
    if ph != pw or strides != (ph, pw) or cfg["padding"] != "valid" or ph < 2:
        raise NotExpressible(
            layer.name,
            f"{kind}(pool_size={cfg['pool_size']}, strides={cfg['strides']}, padding={cfg['padding']!r}); "
            "the notation pools NxN with stride N, padding valid, N >= 2",
        )
    chain.conv.append(Pool(span=_SPAN, op=_POOL_OPS[kind], size=int(ph)))  # type: ignore[arg-type]


def _global_pooling(chain: _Chain, i: int, layer: Any) -> None:
    kind = type(layer).__name__
    chain.need_map(layer, kind)
    if layer.get_config().get("keepdims"):
        raise NotExpressible(layer.name, "keepdims=True; gap/gmp output is flat")
    chain.enter_conv()
    chain.conv.append(GlobalPool(span=_SPAN, op=_GLOBAL_POOL_OPS[kind]))  # type: ignore[arg-type]
    chain.flat = True


def _dropout(chain: _Chain, i: int, layer: Any) -> None:
    cfg = layer.get_config()
    if cfg.get("noise_shape") is not None:
        raise NotExpressible(layer.name, "Dropout with a noise_shape")
    chain.enter_conv()
    item = Dropout(span=_SPAN, rate=_rate(float(cfg["rate"])))
    (chain.dense if chain.section == "D" else chain.conv).append(item)


def _flatten(chain: _Chain, i: int, layer: Any) -> None:
    if chain.flat:
        raise NotExpressible(layer.name, "Flatten of an already flat tensor (after gap/gmp or Flatten)")
    chain.flat, chain.section = True, "D"


def _dense(chain: _Chain, i: int, layer: Any) -> None:
    if not chain.flat:
        raise NotExpressible(layer.name, "Dense on a feature map that was not flattened", hint="add Flatten before it")
    _common_checks(layer)
    chain.section = "D"
    units = int(layer.get_config()["units"])
    if i == len(chain.layers) - 1:
        chain.head = _head(layer, units)
        return
    chain.dense.append(Dense(span=_SPAN, units=units, activation=_letter(layer), l2=_l2(layer)))  # type: ignore[arg-type]
    chain.last_item = (chain.dense, len(chain.dense) - 1)


def _head(layer: Any, units: int) -> Head:
    """The last Dense: softmax (no letter), one sigmoid unit (no letter), or a written activation."""
    act = _activation(layer)
    letter: str | None = None
    if act == "softmax":
        if units == 1:
            raise NotExpressible(layer.name, "a softmax head of 1 unit; O: 1 is a sigmoid unit")
    elif act == "sigmoid" and units == 1:
        pass
    elif act == "sigmoid":
        raise NotExpressible(layer.name, f"a sigmoid head of {units} units (multi-label) is not in v1")
    else:
        letter = _letter(layer)
    return Head(span=_SPAN, text=str(units), classes=units, activation=letter, l2=_l2(layer))  # type: ignore[arg-type]


def _other(chain: _Chain, i: int, layer: Any) -> None:
    kind = type(layer).__name__
    hint = None
    if kind in _ACTIVATION_LAYERS:
        hint = "give the activation to the Conv2D or Dense layer before it (activation='relu')"
    raise NotExpressible(layer.name, f"{kind} has no item in the notation", hint=hint)


_HANDLERS: dict[str, Callable[[_Chain, int, Any], None]] = {
    **dict.fromkeys(sorted(AUGMENT_CLASSES), _augmentation),
    "Rescaling": _rescaling,
    "Conv2D": _conv2d,
    "BatchNormalization": _batchnorm,
    **dict.fromkeys(_POOL_OPS, _pooling),
    **dict.fromkeys(_GLOBAL_POOL_OPS, _global_pooling),
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Dense": _dense,
}


# --- reading one layer's settings -------------------------------------------------------------------


def _config(layer: Any) -> dict[str, Any]:
    cfg = {k: v for k, v in layer.get_config().items() if k not in _IGNORED_KEYS and not k.endswith("_initializer")}
    return json.loads(json.dumps(cfg, default=str))  # tuples and lists alike


def _activation(layer: Any) -> str:
    import keras

    return str(keras.activations.serialize(layer.activation))


def _letter(layer: Any) -> str:
    name = _activation(layer)
    if name not in LETTERS:
        raise NotExpressible(layer.name, f"activation '{name}' has no letter (R T S E G W I)")
    return LETTERS[name]


def _l2(layer: Any) -> float | None:
    reg = layer.kernel_regularizer
    if reg is None:
        return None
    cfg = reg.get_config()
    if type(reg).__name__ == "L2" or (set(cfg) == {"l1", "l2"} and not cfg["l1"]):
        return float(cfg["l2"])
    raise NotExpressible(layer.name, f"kernel regularizer {type(reg).__name__} {cfg}: only L2 can be written")


def _rate(value: float) -> Fraction:
    """The rate as a Fraction that is exactly ``value`` as a float: ``0.2`` is 1/5 and ``1/3`` is 1/3, but a rate
    with no small fraction keeps its shortest decimal (the IR's own float conversion would round it to 9 digits)."""
    near = Fraction(value).limit_denominator(10**9)
    return near if float(near) == value else Fraction(repr(value))


def _common_checks(layer: Any) -> None:
    cfg = layer.get_config()
    for key in ("bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"):
        if cfg.get(key) is not None:
            raise NotExpressible(layer.name, f"{key} is set; the notation has none")
    if not cfg.get("use_bias", True):
        raise NotExpressible(layer.name, "use_bias=False; every cnnspec layer keeps its bias")


def _augment(layer: Any, seed: int | None = None) -> Augment:
    """The augmentation item of a ``Random*`` layer, refused unless the notation builds exactly that layer."""
    from cnnspec.model.builder import augment_layer

    kind = type(layer).__name__
    cfg = layer.get_config()
    if kind not in _FACTOR_AUGMENTS:  # RandomFlip: its mode names the item
        aug = Augment(span=_SPAN, name=FLIP_BY_MODE[cfg["mode"]])  # type: ignore[arg-type]
    else:
        known = _FACTOR_AUGMENTS[kind]
        assert known.factor_key is not None
        value = cfg[known.factor_key]
        values = value if isinstance(value, (list, tuple)) else [value]
        factor = float(max(abs(float(v)) for v in values))
        aug = Augment(span=_SPAN, name=known.name, factor=factor)  # type: ignore[arg-type]
    want = _config(augment_layer(aug, seed))
    got = _config(layer)
    if want != got:
        diff = _differences(want, got)
        raise NotExpressible(
            layer.name, f"{kind} with {_show(got, diff)}; the notation's {aug.name} uses {_show(want, diff)}"
        )
    return aug


def _differences(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """The config keys whose values differ (or that only one side has), sorted."""
    return sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))


def _show(cfg: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={cfg.get(k)!r}" for k in keys)


def _verify(text: str, chain: list[Any], rescales: bool, keras: Any) -> None:
    """Build ``text`` and hold it against ``chain``: same classes, output shapes, params and configs."""
    from cnnspec import build, parse
    from cnnspec.errors import SpecError

    try:
        built = build(parse(text))
    except SpecError as exc:
        d = exc.diagnostics[0]
        raise NotExpressible(None, f"the spec '{text}' is not valid: {d.message}") from None
    rebuilt = layers_of(built)
    if not rescales:
        rebuilt = [layer for layer in rebuilt if layer.name != "rescaling"]
    for ours, theirs in zip(rebuilt, chain, strict=False):
        kind = type(theirs).__name__
        if type(ours).__name__ != kind:
            raise NotExpressible(theirs.name, f"{kind} would be rebuilt as {type(ours).__name__}")
        if tuple(ours.output.shape) != tuple(theirs.output.shape):
            raise NotExpressible(theirs.name, f"output {theirs.output.shape} would be rebuilt as {ours.output.shape}")
        if ours.count_params() != theirs.count_params():
            raise NotExpressible(
                theirs.name, f"{theirs.count_params()} params would be rebuilt as {ours.count_params()}"
            )
        want, got = _config(ours), _config(theirs)
        if want != got:
            diff = _differences(want, got)
            raise NotExpressible(theirs.name, f"{kind}({_show(got, diff)}); the notation gives {_show(want, diff)}")
    if len(rebuilt) != len(chain):
        raise NotExpressible(None, f"the model has {len(chain)} layers but its spec builds {len(rebuilt)}")


__all__ = ["Conversion", "NotExpressible", "convert", "from_keras", "layers_of"]
