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
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cnnspec.notation.ir import (
    Augment,
    Conv,
    Dense,
    Dropout,
    GlobalPool,
    Head,
    InputShape,
    NoPool,
    Pool,
    Span,
    Spec,
)
from cnnspec.notation.vocabulary import ACTIVATION_BY_KERAS_NAME, AUGMENT_CLASSES, AUGMENTATIONS, FLIP_BY_MODE

if TYPE_CHECKING:
    import keras

#: Keras activation name -> letter (Keras 3 calls swish ``silu``).
LETTERS = ACTIVATION_BY_KERAS_NAME

_AUGMENT_CLASSES = AUGMENT_CLASSES
#: Keras class -> the augmentation with a factor it stands for (the flips go by mode).
_FACTOR_AUGMENTS = {a.keras_class: a for a in AUGMENTATIONS.values() if a.factor_key is not None}
#: Config keys that do not change the network a spec describes.
_IGNORED_KEYS = {"name", "trainable", "dtype", "seed", "batch_shape", "batch_input_shape", "input_shape"}
_SPAN = Span(line=1, column=1)


class NotExpressible(ValueError):
    """The model has a layer (or a structure) the notation cannot write; ``layer`` names it."""

    def __init__(self, layer: str | None, reason: str, hint: str | None = None) -> None:
        self.layer = layer
        self.reason = reason
        self.hint = hint
        super().__init__(f"layer '{layer}': {reason}" if layer else reason)


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
    from cnnspec.model.builder import augment_layer

    kind = type(layer).__name__
    cfg = layer.get_config()

    def factor(value: Any) -> float:
        values = value if isinstance(value, (list, tuple)) else [value]
        return float(max(abs(float(v)) for v in values))

    if kind == "RandomFlip":
        aug = Augment(span=_SPAN, name=FLIP_BY_MODE[cfg["mode"]])  # type: ignore[arg-type]
    else:
        known = _FACTOR_AUGMENTS[kind]
        assert known.factor_key is not None
        aug = Augment(span=_SPAN, name=known.name, factor=factor(cfg[known.factor_key]))  # type: ignore[arg-type]
    want = _config(augment_layer(aug, seed))
    got = _config(layer)
    if want != got:
        diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        shown = ", ".join(f"{k}={got.get(k)!r}" for k in diff)
        raise NotExpressible(layer.name, f"{kind} with {shown}; the notation's {aug.name} uses {_show(want, diff)}")
    return aug


def _show(cfg: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={cfg.get(k)!r}" for k in keys)


def convert(model: keras.Model) -> Conversion:
    """The spec of ``model`` and notes about it (see the module docstring); proven by a rebuild."""
    import keras

    chain = layers_of(model)
    notes: list[str] = []
    shape = tuple(model.inputs[0].shape[1:]) if model.inputs else ()
    if len(shape) != 3 or any(d is None for d in shape):
        raise NotExpressible(None, f"the model's input has shape {shape}; the notation's input is an HxWxC image")
    h, w, c = (int(d) for d in shape)

    augment: list[Augment] = []
    conv: list[Any] = []
    dense: list[Any] = []
    head: Head | None = None
    rescaling: Any = None
    flat = False  # the feature map has been flattened (Flatten, gap or gmp)
    section = "A"  # A (before rescaling), C, D
    last: tuple[list[Any], int] | None = None  # the conv/dense item a BatchNormalization may join

    for i, layer in enumerate(chain):
        kind = type(layer).__name__
        is_last = i == len(chain) - 1
        if head is not None:
            raise NotExpressible(layer.name, f"{kind} after the head: the notation ends with the Dense head")
        bn_target, last = last, None
        if kind in _AUGMENT_CLASSES:
            if section != "A":
                where = "after Rescaling" if rescaling is not None else f"after '{chain[i - 1].name}'"
                raise NotExpressible(
                    layer.name,
                    f"{kind} {where}: augmentation comes first, on 0-255 pixels",
                    hint="move the augmentation layers before Rescaling",
                )
            augment.append(_augment(layer))
        elif kind == "Rescaling":
            cfg = layer.get_config()
            if section != "A" or rescaling is not None:
                raise NotExpressible(
                    layer.name, "Rescaling after the first layers: the notation rescales only the input"
                )
            if abs(float(cfg["scale"]) - 1 / 255) > 1e-9 or float(cfg["offset"]) != 0:
                raise NotExpressible(
                    layer.name,
                    f"Rescaling(scale={cfg['scale']}, offset={cfg['offset']}); the notation rescales by 1/255 only",
                )
            rescaling, section = layer, "C"
        elif kind == "Conv2D":
            section = "C" if section == "A" else section
            if flat or section == "D":
                raise NotExpressible(layer.name, "Conv2D after the feature map was flattened")
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
            conv.append(
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
            last = (conv, len(conv) - 1)
        elif kind == "BatchNormalization":
            if bn_target is None:
                raise NotExpressible(
                    layer.name, "BatchNormalization not right after a Conv2D or Dense (the notation's n follows one)"
                )
            cfg = layer.get_config()
            defaults = {"axis": -1, "epsilon": 0.001, "center": True, "scale": True, "momentum": 0.99}
            for key, value in defaults.items():
                got = cfg[key][0] if key == "axis" and isinstance(cfg[key], list) else cfg[key]
                if key == "axis" and got == len(layer.input.shape) - 1:
                    got = -1
                if got != value:
                    raise NotExpressible(layer.name, f"BatchNormalization({key}={cfg[key]!r}); n uses {key}={value!r}")
            items, idx = bn_target
            items[idx] = items[idx].model_copy(update={"batchnorm": True})
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            if flat or section == "D":
                raise NotExpressible(layer.name, f"{kind} after the feature map was flattened")
            section = "C" if section == "A" else section
            cfg = layer.get_config()
            ph, pw = cfg["pool_size"]
            strides = tuple(cfg["strides"] or cfg["pool_size"])
            if ph != pw or strides != (ph, pw) or cfg["padding"] != "valid" or ph < 2:
                raise NotExpressible(
                    layer.name,
                    f"{kind}(pool_size={cfg['pool_size']}, strides={cfg['strides']}, padding={cfg['padding']!r}); "
                    "the notation pools NxN with stride N, padding valid, N >= 2",
                )
            conv.append(Pool(span=_SPAN, op="max" if kind == "MaxPooling2D" else "avg", size=int(ph)))
        elif kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            if flat or section == "D":
                raise NotExpressible(layer.name, f"{kind} after the feature map was flattened")
            if layer.get_config().get("keepdims"):
                raise NotExpressible(layer.name, "keepdims=True; gap/gmp output is flat")
            section = "C" if section == "A" else section
            conv.append(GlobalPool(span=_SPAN, op="avg" if kind == "GlobalAveragePooling2D" else "max"))
            flat = True
        elif kind == "Dropout":
            cfg = layer.get_config()
            if cfg.get("noise_shape") is not None:
                raise NotExpressible(layer.name, "Dropout with a noise_shape")
            section = "C" if section == "A" else section
            item = Dropout(span=_SPAN, rate=_rate(float(cfg["rate"])))
            (dense if section == "D" else conv).append(item)
        elif kind == "Flatten":
            if flat:
                raise NotExpressible(layer.name, "Flatten of an already flat tensor (after gap/gmp or Flatten)")
            flat, section = True, "D"
        elif kind == "Dense":
            if not flat:
                raise NotExpressible(
                    layer.name, "Dense on a feature map that was not flattened", hint="add Flatten before it"
                )
            _common_checks(layer)
            section = "D"
            units = int(layer.get_config()["units"])
            act = _activation(layer)
            if is_last:
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
                head = Head(span=_SPAN, text=str(units), classes=units, activation=letter, l2=_l2(layer))  # type: ignore[arg-type]
            else:
                dense.append(Dense(span=_SPAN, units=units, activation=_letter(layer), l2=_l2(layer)))  # type: ignore[arg-type]
                last = (dense, len(dense) - 1)
        else:
            hint = None
            if kind in ("Activation", "ReLU", "ELU", "Softmax", "LeakyReLU"):
                hint = "give the activation to the Conv2D or Dense layer before it (activation='relu')"
            raise NotExpressible(layer.name, f"{kind} has no item in the notation", hint=hint)

    if head is None:
        name = chain[-1].name if chain else None
        raise NotExpressible(name, "the model does not end with a Dense head (O:)")
    if conv and not any(isinstance(x, (Pool, GlobalPool)) for x in conv) and any(isinstance(x, Conv) for x in conv):
        conv.append(NoPool(span=_SPAN))  # plain convolutions: no implied pools
    if not conv and not dense:
        # Flatten then the head: a spec needs C: or D:, and `C: p0` is a C: section that adds no layer.
        conv.append(NoPool(span=_SPAN))
    if rescaling is None:
        notes.append(
            "the model has no Rescaling layer, so it wants inputs scaled the way its training data was; "
            "the spec describes the same network taking raw 0-255 pixels: a model built from it "
            "adds Rescaling(1/255) (layer 'rescaling')"
        )
    spec = Spec(
        input=InputShape(span=_SPAN, text=f"{h}x{w}x{c}", height=h, width=w, channels=c),
        augment=tuple(augment) or None,
        conv=tuple(conv) or None,
        dense=tuple(dense) or None,
        head=head,
    )
    from cnnspec.notation.formatter import format_spec

    text = format_spec(spec)
    _verify(text, chain, rescaling is not None, keras)
    return Conversion(spec=text, notes=notes, rescales=rescaling is not None)


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
            diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            raise NotExpressible(theirs.name, f"{kind}({_show(got, diff)}); the notation gives {_show(want, diff)}")
    if len(rebuilt) != len(chain):
        raise NotExpressible(None, f"the model has {len(chain)} layers but its spec builds {len(rebuilt)}")


__all__ = ["Conversion", "NotExpressible", "convert", "from_keras", "layers_of"]
