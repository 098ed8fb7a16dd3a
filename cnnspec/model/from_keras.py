"""A Keras model -> spec text in the notation (version 2), when the notation can write it.

Reads Sequential and functional models whose graph is a chain of layers with
residual blocks (:mod:`cnnspec.model.keras_graph` puts them in the notation's
order; nested models, like the articles' ``data_augmentation``, are opened up):
``Random*`` augmentation before ``Rescaling(1/255)``; ``Conv2D``,
``SeparableConv2D`` (``sep``) and ``DepthwiseConv2D`` (``dw``) with their
activation, kernel, stride, padding, L2 and bias; ``BatchNormalization`` after
the activation (``n``), between a linear layer and an activation layer (``b``,
``B`` when the layer has no bias) or on its own (a bare ``n``); activation
layers (``Activation``, ``ReLU()``, ``ELU()``: a bare letter, or the letter of
``b``); max / average pools with their stride and padding; global pools;
``Dropout``; ``Flatten``; ``Dense``; an ``Add`` of a block's output and its input
or a 1x1 projection of it (``[ … ]+``); and a last ``Dense`` head, alone or
followed by ``Activation('softmax')`` (``sigmoid`` for one unit).

Every answer is proven: the spec is built again with :func:`cnnspec.build`
and compared with the model layer by layer (class, output shape, parameters,
configuration and which layers feed it).  The head written as ``Dense`` +
``Activation`` is compared fused, as the one ``Dense`` the spec builds.  The
first layer that cannot be written is named in :class:`NotExpressible`, and a
hint never suggests a change that alters the network.

**Rescaling.** A cnnspec model always takes raw 0-255 pixels and rescales by
1/255 itself.  A model without a ``Rescaling`` layer (the articles often
divide the data by 255 beforehand) is still described - its spec is the
same network - with a note: the built model has one more layer,
``rescaling``, and wants raw pixels.  Any other rescaling (``1/127.5``, an
offset) cannot be written.

**Inputs.** An input of shape (H, W) is ``I: HxWx1``; a ``Reshape((H, W, C))``
right after a flat input is ``I: HxWxC``; any other flat input of N values is
``I: 1x1xN``.  Each comes with a note saying what the spec's model takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from cnnspec.model.keras_graph import INPUT, NotExpressible, Row, rows_of
from cnnspec.notation.ir import (
    ActivationItem,
    Augment,
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
    Spec,
)
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
#: BatchNormalization settings that ``n``, ``b`` and ``B`` build (Keras' defaults).
_BN_DEFAULTS = {"axis": -1, "epsilon": 0.001, "center": True, "scale": True, "momentum": 0.99}
#: Layer settings the notation never sets.
_SET_NEVER = (
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
    "depthwise_constraint",
    "pointwise_constraint",
)
#: What a residual block may hold (the notation's block items), by Keras class.
_BLOCK_KINDS = {
    "Conv2D",
    "SeparableConv2D",
    "DepthwiseConv2D",
    "BatchNormalization",
    "Activation",
    "ReLU",
    "ELU",
    "Dropout",
    *POOL_CLASSES.values(),
}
#: Every node here is read from a Keras model, not from text: it points nowhere (Span.invented).
_SPAN = Span.invented("the Keras model")

InputKind = Literal["image", "hw", "reshape", "flat"]


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
    """The model's layers in the notation's order (a block: its path, its projection, its Add), input layers
    left out; nested models opened up.  Raises :class:`NotExpressible` unless the graph is such a chain."""
    return [row.layer for row in rows_of(model)]


def convert(model: keras.Model) -> Conversion:
    """The spec of ``model`` and notes about it (see the module docstring); proven by a rebuild.

    One handler per Keras class (:data:`_HANDLERS`) reads each layer, in the notation's order,
    into the spec's items; the first layer that no handler accepts is named in :class:`NotExpressible`.
    """
    try:
        inputs = model.inputs
    except AttributeError:  # Keras: a Sequential model that was never built "has no defined inputs yet"
        if model.layers:
            raise NotExpressible(
                None, "the model was never built: it has no input shape (give it keras.Input)"
            ) from None
        raise NotExpressible(None, "the model has no layers: the notation ends with a Dense head (O:)") from None
    if not inputs:
        raise NotExpressible(None, "the model has no input")
    chain = _Chain(rows_of(model))
    first = chain.read_input(tuple(inputs[0].shape[1:]))
    for i in range(first, len(chain.rows)):
        row = chain.rows[i]
        if i == chain.fused_activation:
            continue  # the head's Activation, read with its Dense
        if chain.head is not None:
            raise NotExpressible(row.layer.name, f"{row.kind} after the head: the notation ends with the Dense head")
        chain.before(row)
        if row.role == "projection":
            _projection(chain, i, row)
        else:
            _HANDLERS.get(row.kind, _other)(chain, i, row)
    spec = chain.spec()
    from cnnspec.notation.formatter import format_spec

    text = format_spec(spec)
    _verify(text, chain)
    return Conversion(spec=text, notes=chain.notes(), rescales=chain.rescaling is not None)


@dataclass
class _Join:
    """A layer item just read that the next layer may join: a batch norm (``n``, ``b``, ``B``) or the
    activation of ``b``/``B``; or a block just closed, whose ``]+`` takes the activation after the Add."""

    items: list[Any]
    index: int
    layer: Any
    #: "layer": the conv / dense itself; "bn": a linear layer and its batch norm; "block": the Add.
    stage: Literal["layer", "bn", "block"] = "layer"

    @property
    def item(self) -> Any:
        return self.items[self.index]

    def update(self, **changes: Any) -> None:
        self.items[self.index] = self.item.model_copy(update=changes)


@dataclass
class _Chain:
    """The walk over a model's rows: where it stands, and the spec's items read so far."""

    rows: list[Row]
    augment: list[Augment] = field(default_factory=list)
    conv: list[Any] = field(default_factory=list)
    dense: list[Any] = field(default_factory=list)
    head: Head | None = None
    rescaling: Any = None
    flat: bool = False  # the feature map has been flattened (Flatten, gap or gmp, or a flat input)
    section: str = "A"  # A (before rescaling), C, D
    input_kind: InputKind = "image"
    input_shape: tuple[int, int, int] = (1, 1, 1)
    #: The Keras layer of the model's Flatten, if it has one.
    flatten: Any = None
    #: The row of the Activation read with the head's Dense (compared fused), and that Dense's row.
    fused_activation: int | None = None
    fused_dense: int | None = None
    #: The item the layer being read may join (set by the layer before it) ...
    prev: _Join | None = None
    #: ... and the one the layer being read offers to the next.
    join: _Join | None = None
    #: The block being read: its number, its items, the projection read for it.
    block: int | None = None
    block_items: list[Any] = field(default_factory=list)
    projection: Any = None

    def read_input(self, shape: tuple[Any, ...]) -> int:
        """Read the model's input (and a Reshape right after a flat one); the first row left to read."""
        if any(d is None for d in shape) or not 1 <= len(shape) <= 3:
            raise NotExpressible(
                None, f"the model's input has shape {shape}; the notation's input is an HxWxC image, (H, W) or flat"
            )
        dims = tuple(int(d) for d in shape)
        if len(dims) == 3:
            self.input_shape = (dims[0], dims[1], dims[2])
            return 0
        if len(dims) == 2:
            self.input_kind, self.input_shape = "hw", (dims[0], dims[1], 1)
            return 0
        first = self.rows[0] if self.rows else None
        if first is not None and first.kind == "Reshape" and len(first.shape) == 3:
            self.input_kind = "reshape"
            self.input_shape = (int(first.shape[0] or 0), int(first.shape[1] or 0), int(first.shape[2] or 0))
            return 1
        self.input_kind, self.input_shape, self.flat = "flat", (1, 1, dims[0]), True
        return 0

    def before(self, row: Row) -> None:
        """Move the join window on one layer; open a block at its first layer."""
        self.prev, self.join = self.join, None
        prev = self.prev
        if prev is not None and prev.stage == "layer" and not prev.item.use_bias and row.kind != "BatchNormalization":
            raise NotExpressible(
                prev.layer.name,
                "use_bias=False with no BatchNormalization right after it: "
                "the notation drops the bias only before a batch norm (B)",
            )
        if row.block is None or row.role is not None:
            return
        if row.kind not in _BLOCK_KINDS:
            raise NotExpressible(
                row.layer.name,
                f"{row.kind} inside a residual block: a block holds convolutions, pools, dropouts, "
                "batch normalizations and activations",
            )
        if self.block != row.block:
            self.need_map(row.layer, "a residual block")
            self.enter_conv()
            self.block, self.block_items, self.projection = row.block, [], None
            # Nothing joins across the `[`: a batch norm or an activation first in a block is a bare item.
            self.prev = None

    def enter_conv(self) -> None:
        """A layer that belongs to C: (a layer before it, if any, was augmentation)."""
        self.section = "C" if self.section == "A" else self.section

    def need_map(self, layer: Any, kind: str) -> None:
        """Refuse a layer that needs a feature map once the map was flattened."""
        if self.flat or self.section == "D":
            raise NotExpressible(layer.name, f"{kind} after the feature map was flattened")

    @property
    def c_items(self) -> list[Any]:
        """Where a C: item goes: the open block, else the section."""
        return self.block_items if self.block is not None else self.conv

    def add_layer_item(self, items: list[Any], item: Any, layer: Any) -> None:
        """Append a conv / dw / dense item that a batch norm or an activation may join next."""
        items.append(item)
        self.join = _Join(items, len(items) - 1, layer)

    def add_bare(self, item: Any) -> None:
        """A bare ``n`` or activation: in D: once the map is flat (only dropouts follow gap/gmp in C:)."""
        if self.flat:
            self.section = "D"
            self.dense.append(item)
        else:
            self.enter_conv()
            self.c_items.append(item)

    def shape_of(self, position: int) -> tuple[Any, ...]:
        """Output shape of the row at ``position`` (the input's for :data:`INPUT`), without the batch."""
        return self.input_shape if position == INPUT else self.rows[position].shape

    def spec(self) -> Spec:
        """The spec of the whole chain, once every layer was read."""
        if self.head is None:
            name = self.rows[-1].layer.name if self.rows else None
            raise NotExpressible(name, "the model does not end with a Dense head (O:)")
        conv = self.conv
        pooled = any(isinstance(x, (Pool, GlobalPool, Block)) for x in conv)
        if conv and not pooled and any(isinstance(x, Conv) for x in conv):
            conv.append(NoPool(span=_SPAN))  # plain convolutions: no implied pools
        if not conv and not self.dense:
            # Flatten then the head: a spec needs C: or D:, and `C: p0` is a C: section that adds no layer.
            conv.append(NoPool(span=_SPAN))
        h, w, c = self.input_shape
        return Spec(
            input=InputShape(span=_SPAN, text=f"{h}x{w}x{c}", height=h, width=w, channels=c),
            augment=tuple(self.augment) or None,
            conv=tuple(conv) or None,
            dense=tuple(self.dense) or None,
            head=self.head,
        )

    def notes(self) -> list[str]:
        """What the spec's model does differently from the Keras model (the same network)."""
        out = []
        h, w, c = self.input_shape
        if self.input_kind == "hw":
            out.append(f"the model's input has shape ({h}, {w}): the spec's model takes ({h}, {w}, 1) arrays")
        elif self.input_kind == "reshape":
            out.append(
                f"the model takes flat arrays of {h * w * c} values and reshapes them to ({h}, {w}, {c}): "
                "the spec's model takes images"
            )
        elif self.input_kind == "flat":
            out.append(
                f"the model's input is flat ({c} values): the spec's model takes (1, 1, {c}) arrays, flattens them, "
                "divides them by 255, and needs I: changed before training on images"
            )
        if self.rescaling is None:
            out.append(
                "the model has no Rescaling layer, so it wants inputs scaled the way its training data was; "
                "the spec describes the same network taking raw 0-255 pixels: a model built from it "
                "adds Rescaling(1/255) (layer 'rescaling')"
            )
        if self.fused_activation is not None and self.fused_dense is not None:
            dense, act = self.rows[self.fused_dense].layer, self.rows[self.fused_activation].layer
            out.append(
                f"the last Dense '{dense.name}' and its Activation('{_activation(act)}') '{act.name}' are the head "
                f"O: {self.head.classes if self.head else '?'}, built as one Dense with {_activation(act)}: "
                "the proof that the spec builds the same network compared that pair fused"
            )
        return out


# --- one handler per Keras class: (chain, position of the row, row) ------------------------------


def _augmentation(chain: _Chain, i: int, row: Row) -> None:
    layer = row.layer
    if chain.section != "A":
        where = "after Rescaling" if chain.rescaling is not None else f"after '{chain.rows[i - 1].layer.name}'"
        # No hint: moving the layer would change the network (contrast and brightness act on 0-255 values).
        raise NotExpressible(layer.name, f"{row.kind} {where}: augmentation comes first, on 0-255 pixels")
    chain.augment.append(_augment(layer))


def _rescaling(chain: _Chain, i: int, row: Row) -> None:
    layer = row.layer
    cfg = layer.get_config()
    if chain.section != "A" or chain.rescaling is not None:
        raise NotExpressible(layer.name, "Rescaling after the first layers: the notation rescales only the input")
    if abs(float(cfg["scale"]) - 1 / 255) > 1e-9 or float(cfg["offset"]) != 0:
        raise NotExpressible(
            layer.name,
            f"Rescaling(scale={cfg['scale']}, offset={cfg['offset']}); the notation rescales by 1/255 only",
        )
    chain.rescaling, chain.section = layer, "C"


def _convolution(chain: _Chain, i: int, row: Row) -> None:
    """Conv2D, SeparableConv2D (``sep``) and DepthwiseConv2D (``dw``)."""
    layer, kind = row.layer, row.kind
    chain.enter_conv()
    chain.need_map(layer, kind)
    _common_checks(layer)
    cfg = layer.get_config()
    sh, sw = cfg["strides"]
    if sh != sw:
        raise NotExpressible(layer.name, f"strides {tuple(cfg['strides'])}; the notation has one stride (s2)")
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1:
        raise NotExpressible(layer.name, "dilated or grouped convolution")
    if cfg.get("depth_multiplier", 1) != 1:
        raise NotExpressible(layer.name, f"depth_multiplier={cfg['depth_multiplier']}; sep and dw use 1")
    if cfg["data_format"] != "channels_last":
        raise NotExpressible(layer.name, "data_format channels_first; cnnspec is channels_last")
    kh, kw = cfg["kernel_size"]
    shared = {
        "span": _SPAN,
        "kernel": (int(kh), int(kw)),
        "stride": int(sh),
        "padding": cfg["padding"],
        "activation": _letter(layer),
        "l2": _l2(layer),
        "prenorm": None if cfg["use_bias"] else "B",
    }
    if not cfg["use_bias"] and shared["activation"] != "I":
        raise NotExpressible(
            layer.name,
            f"use_bias=False with activation '{_activation(layer)}': the notation drops the bias only as B, "
            "a linear layer, then its batch norm, then the activation",
        )
    item: Conv | Depthwise
    if kind == "DepthwiseConv2D":
        item = Depthwise(**shared)
    else:
        item = Conv(filters=int(cfg["filters"]), separable=kind == "SeparableConv2D", **shared)
    chain.add_layer_item(chain.c_items, item, layer)


def _batchnorm(chain: _Chain, i: int, row: Row) -> None:
    layer = row.layer
    cfg = layer.get_config()
    for key, value in _BN_DEFAULTS.items():
        got = cfg[key][0] if key == "axis" and isinstance(cfg[key], list) else cfg[key]
        if key == "axis" and got == len(row.shape):
            got = -1
        if got != value:
            raise NotExpressible(layer.name, f"BatchNormalization({key}={cfg[key]!r}); n uses {key}={value!r}")
    prev = chain.prev
    if prev is None or prev.stage != "layer" or prev.item.batchnorm:
        chain.add_bare(BatchNorm(span=_SPAN))  # a bare n
        return
    if prev.item.activation != "I":
        prev.update(batchnorm=True)  # n: after the activation
        return
    # A linear layer and its batch norm: `In` (`IB` without a bias), or `b` / `B` once an activation follows.
    if prev.item.use_bias:
        prev.update(batchnorm=True)
    prev.stage = "bn"
    chain.join = prev


def _activation_layer(chain: _Chain, i: int, row: Row) -> None:
    """Activation, ReLU(), ELU(): the activation of ``b``/``B``, the letter after ``]+``, or a bare letter."""
    letter = _layer_letter(row.layer)
    prev = chain.prev
    if prev is not None and prev.stage == "bn":
        prev.update(prenorm=prev.item.prenorm or "b", batchnorm=False, activation=letter)
    elif prev is not None and prev.stage == "block" and prev.item.activation is None:
        prev.update(activation=letter)
    else:
        chain.add_bare(ActivationItem(span=_SPAN, activation=letter))  # type: ignore[arg-type]


def _pooling(chain: _Chain, i: int, row: Row) -> None:
    layer, kind = row.layer, row.kind
    chain.need_map(layer, kind)
    chain.enter_conv()
    cfg = layer.get_config()
    ph, pw = cfg["pool_size"]
    sh, sw = tuple(cfg["strides"] or cfg["pool_size"])
    if ph != pw or sh != sw or ph < 2 or cfg.get("data_format", "channels_last") != "channels_last":
        raise NotExpressible(
            layer.name,
            f"{kind}(pool_size={tuple(cfg['pool_size'])}, strides={cfg['strides']}); "
            "the notation pools NxN with one stride, N >= 2",
        )
    pool = Pool(
        span=_SPAN,
        op=_POOL_OPS[kind],  # type: ignore[arg-type]
        size=int(ph),
        stride=None if sh == ph else int(sh),
        padding=cfg["padding"],
    )
    chain.c_items.append(pool)


def _global_pooling(chain: _Chain, i: int, row: Row) -> None:
    layer, kind = row.layer, row.kind
    chain.need_map(layer, kind)
    if layer.get_config().get("keepdims"):
        raise NotExpressible(layer.name, "keepdims=True; gap/gmp output is flat")
    chain.enter_conv()
    chain.conv.append(GlobalPool(span=_SPAN, op=_GLOBAL_POOL_OPS[kind]))  # type: ignore[arg-type]
    chain.flat = True


def _dropout(chain: _Chain, i: int, row: Row) -> None:
    cfg = row.layer.get_config()
    if cfg.get("noise_shape") is not None:
        raise NotExpressible(row.layer.name, "Dropout with a noise_shape")
    chain.enter_conv()
    item = Dropout(span=_SPAN, rate=_rate(float(cfg["rate"])))
    (chain.dense if chain.section == "D" else chain.c_items).append(item)


def _flatten(chain: _Chain, i: int, row: Row) -> None:
    if chain.flat and not (chain.input_kind == "flat" and chain.flatten is None and chain.section != "D"):
        raise NotExpressible(row.layer.name, "Flatten of an already flat tensor (after gap/gmp or Flatten)")
    chain.flat, chain.section, chain.flatten = True, "D", row.layer


def _dense(chain: _Chain, i: int, row: Row) -> None:
    layer = row.layer
    if not chain.flat:
        raise NotExpressible(layer.name, "Dense on a feature map that was not flattened")
    _common_checks(layer)
    chain.section = "D"
    units = int(layer.get_config()["units"])
    last = len(chain.rows) - 1
    after = chain.rows[i + 1] if i < last else None
    if after is None:
        chain.head = _head(layer, units)
        return
    if i + 1 == last and after.kind == "Activation" and _activation(layer) == "linear":
        act = _activation(after.layer)
        if act == ("softmax" if units > 1 else "sigmoid"):
            chain.head = _head(layer, units, fused=act)
            chain.fused_dense, chain.fused_activation = i, i + 1
            return
        if act == "sigmoid":
            raise NotExpressible(
                after.layer.name, f"a sigmoid head of {units} units (multi-label) is not in the notation"
            )
    if not layer.get_config()["use_bias"] and _activation(layer) != "linear":
        raise NotExpressible(
            layer.name,
            f"use_bias=False with activation '{_activation(layer)}': the notation drops the bias only as B, "
            "a linear layer, then its batch norm, then the activation",
        )
    dense = Dense(
        span=_SPAN,
        units=units,
        activation=_letter(layer),  # type: ignore[arg-type]
        l2=_l2(layer),
        prenorm=None if layer.get_config()["use_bias"] else "B",
    )
    chain.add_layer_item(chain.dense, dense, layer)


def _head(layer: Any, units: int, fused: str | None = None) -> Head:
    """The last Dense: softmax (no letter), one sigmoid unit (no letter), or a written activation.

    ``fused``: the activation of the ``Activation`` layer after a linear Dense, read as the Dense's own."""
    if not layer.get_config()["use_bias"]:
        raise NotExpressible(layer.name, "use_bias=False on the head; the head O: keeps its bias")
    act = fused or _activation(layer)
    letter: str | None = None
    if act == "softmax":
        if units == 1:
            raise NotExpressible(layer.name, "a softmax head of 1 unit; O: 1 is a sigmoid unit")
    elif act == "sigmoid" and units == 1:
        pass
    elif act == "sigmoid":
        raise NotExpressible(layer.name, f"a sigmoid head of {units} units (multi-label) is not in the notation")
    else:
        letter = _letter(layer)
    return Head(span=_SPAN, text=str(units), classes=units, activation=letter, l2=_l2(layer))  # type: ignore[arg-type]


def _projection(chain: _Chain, i: int, row: Row) -> None:
    """The layer on a block's shortcut: the notation's projection is a 1x1 linear Conv2D with a bias, no
    regularizer, and the block's stride (padding "valid" is the same network for a 1x1 kernel)."""
    layer, kind = row.layer, row.kind
    if kind != "Conv2D":
        raise NotExpressible(
            layer.name, f"{kind} on the shortcut of a residual block: the notation's shortcut is a 1x1 Conv2D"
        )
    cfg = layer.get_config()
    stride = _block_stride(chain.block_items)
    problems = []
    if tuple(cfg["kernel_size"]) != (1, 1):
        problems.append(f"kernel {tuple(cfg['kernel_size'])} (1x1 expected)")
    if _activation(layer) != "linear":
        problems.append(f"activation '{_activation(layer)}' (linear expected)")
    if tuple(cfg["strides"]) != (stride, stride):
        problems.append(
            f"strides {tuple(cfg['strides'])} while the block's stride is {stride} "
            "(the product of its convolutions' and pools' strides)"
        )
    if not cfg["use_bias"]:
        problems.append("use_bias=False (the projection keeps its bias)")
    for key in (
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
    ):
        if cfg.get(key) is not None:
            problems.append(f"{key} set (the projection has none)")
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg["groups"] != 1 or cfg["data_format"] != "channels_last":
        problems.append("dilated, grouped or channels_first")
    if problems:
        raise NotExpressible(
            layer.name, "the projection on the shortcut of a residual block has " + "; ".join(problems)
        )
    chain.projection = layer


def _add(chain: _Chain, i: int, row: Row) -> None:
    """The Add that closes a block: the block's output plus its input or the projection of it."""
    layer = row.layer
    if row.role != "add" or chain.block is None:
        raise NotExpressible(layer.name, "Add that does not close a residual block")
    shapes = [chain.shape_of(j) for j in row.inputs]
    if shapes[0] != shapes[1]:
        raise NotExpressible(
            layer.name,
            f"Add of shapes {_dims(shapes[0])} and {_dims(shapes[1])} broadcasts; "
            "the notation adds two tensors of the same shape",
        )
    start = next(r for r in chain.rows if r.block == row.block and r.role is None)
    block_in = chain.shape_of(start.inputs[0])
    if chain.projection is not None and tuple(block_in) == tuple(shapes[0]):
        raise NotExpressible(
            chain.projection.name,
            f"a projection on the shortcut of a block that keeps its shape {_dims(block_in)}: "
            "the notation adds the block's input as it is",
        )
    if not any(isinstance(x, (Conv, Depthwise)) for x in chain.block_items):
        raise NotExpressible(layer.name, "a residual block with no convolution")
    block = Block(span=_SPAN, items=tuple(chain.block_items), close=_SPAN)
    chain.block = None
    chain.conv.append(block)
    chain.join = _Join(chain.conv, len(chain.conv) - 1, layer, stage="block")


def _other(chain: _Chain, i: int, row: Row) -> None:
    raise NotExpressible(row.layer.name, f"{row.kind} has no item in the notation")


_HANDLERS: dict[str, Callable[[_Chain, int, Row], None]] = {
    **dict.fromkeys(sorted(AUGMENT_CLASSES), _augmentation),
    "Rescaling": _rescaling,
    "Conv2D": _convolution,
    "SeparableConv2D": _convolution,
    "DepthwiseConv2D": _convolution,
    "BatchNormalization": _batchnorm,
    "Activation": _activation_layer,
    "ReLU": _activation_layer,
    "ELU": _activation_layer,
    **dict.fromkeys(_POOL_OPS, _pooling),
    **dict.fromkeys(_GLOBAL_POOL_OPS, _global_pooling),
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Dense": _dense,
    "Add": _add,
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


def _layer_letter(layer: Any) -> str:
    """The letter of an activation layer: Activation(name), ReLU() with its defaults, ELU(alpha=1.0)."""
    kind, cfg = type(layer).__name__, layer.get_config()
    if kind == "ReLU":
        args = ", ".join(f"{k}={cfg[k]:g}" for k in ("max_value", "negative_slope", "threshold") if cfg[k])
        if args:
            raise NotExpressible(layer.name, f"ReLU({args}) has no letter: R is ReLU() with its default arguments")
        return "R"
    if kind == "ELU":
        if float(cfg["alpha"]) != 1.0:
            raise NotExpressible(layer.name, f"ELU(alpha={cfg['alpha']}) has no letter: E is ELU with alpha 1.0")
        return "E"
    name = _activation(layer)
    if name == "linear":
        raise NotExpressible(layer.name, "Activation('linear') is an identity layer; the notation writes no such layer")
    if name not in LETTERS:
        raise NotExpressible(layer.name, f"activation '{name}' has no letter (R T S E G W)")
    return LETTERS[name]


def _regularizers(layer: Any) -> list[Any]:
    """The kernel regularizers of the layer: ``L2`` sets both of a separable convolution's."""
    kind = type(layer).__name__
    if kind == "SeparableConv2D":
        return [layer.depthwise_regularizer, layer.pointwise_regularizer]
    if kind == "DepthwiseConv2D":
        return [layer.depthwise_regularizer]
    return [layer.kernel_regularizer]


def _l2(layer: Any) -> float | None:
    factors = {_l2_factor(layer, reg) for reg in _regularizers(layer)}
    if len(factors) > 1:
        raise NotExpressible(
            layer.name, "depthwise and pointwise regularizers differ; sep's L2 sets both to one factor"
        )
    return factors.pop()


def _l2_factor(layer: Any, reg: Any) -> float | None:
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
    for key in _SET_NEVER:
        if cfg.get(key) is not None:
            raise NotExpressible(layer.name, f"{key} is set; the notation has none")


def _block_stride(items: list[Any]) -> int:
    """The block's stride: the product of its convolutions' and pools' strides."""
    return math.prod(
        x.strides if isinstance(x, Pool) else x.stride for x in items if isinstance(x, (Conv, Depthwise, Pool))
    )


def _dims(shape: tuple[Any, ...]) -> str:
    return "x".join(str(d) for d in shape)


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


@dataclass(frozen=True)
class _Entry:
    """One layer as the proof compares it: class, configuration, output shape, parameters, wiring."""

    layer: Any
    kind: str
    config: dict[str, Any]
    shape: tuple[Any, ...]
    params: int
    inputs: tuple[int, ...]


def _entries(
    rows: list[Row],
    drop: set[int],
    fuse: dict[int, int],
    reshape: Callable[[tuple[Any, ...]], tuple[Any, ...]],
) -> list[_Entry]:
    """The rows as the proof compares them: the rows in ``drop`` left out (their readers read what they read),
    each Dense in ``fuse`` with its Activation's function and output, an activation layer as ``Activation``,
    a 1x1 projection's padding as "same" (the same network)."""
    out: list[_Entry] = []
    where: dict[int, int] = {INPUT: INPUT}
    fused = set(fuse.values())
    for i, row in enumerate(rows):
        if i in drop or i in fused:
            where[i] = where[row.inputs[0]] if i in drop else where[next(d for d, a in fuse.items() if a == i)]
            continue
        kind, cfg, shape = row.kind, _config(row.layer), row.shape
        if kind in ("ReLU", "ELU"):
            kind, cfg = "Activation", {"activation": kind.lower()}
        if i in fuse:
            cfg["activation"], shape = _activation(rows[fuse[i]].layer), rows[fuse[i]].shape
        if row.role == "projection" and cfg.get("kernel_size") == [1, 1]:
            cfg["padding"] = "same"
        inputs = tuple(where[j] for j in row.inputs)
        if kind == "Add":
            inputs = tuple(sorted(inputs))  # the two operand orders are the same block
        out.append(_Entry(row.layer, kind, cfg, reshape(tuple(shape)), row.layer.count_params(), inputs))
        where[i] = len(out) - 1
    return out


def _verify(text: str, chain: _Chain) -> None:
    """Build ``text`` and hold it against the model: the same classes, configurations, output shapes,
    parameters and wiring, layer by layer (the model's rescaling aside when it has none)."""
    from cnnspec import build, parse
    from cnnspec.errors import SpecError

    try:
        built = build(parse(text))
    except SpecError as exc:
        d = exc.diagnostics[0]
        raise NotExpressible(None, f"the spec '{text}' is not valid: {d.message}") from None
    rebuilt = rows_of(built)
    h, w, c = chain.input_shape
    drop_ours = set()
    if chain.rescaling is None:
        drop_ours |= {j for j, r in enumerate(rebuilt) if r.kind == "Rescaling"}
    if chain.input_kind == "flat" and chain.flatten is None:
        drop_ours |= {next(j for j, r in enumerate(rebuilt) if r.kind == "Flatten")}
    fuse = {chain.fused_dense: chain.fused_activation} if chain.fused_dense is not None else {}
    drop_theirs = {0} if chain.input_kind == "reshape" else set()

    def theirs_shape(shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return (h, w, 1) if chain.input_kind == "hw" and shape == (h, w) else shape

    def ours_shape(shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return (c,) if chain.input_kind == "flat" and shape == (1, 1, c) else shape

    ours = _entries(rebuilt, drop_ours, {}, ours_shape)
    theirs = _entries(chain.rows, drop_theirs, fuse, theirs_shape)  # type: ignore[arg-type]
    for mine, their in zip(ours, theirs, strict=False):
        name, kind = their.layer.name, their.kind
        if mine.kind != kind:
            raise NotExpressible(name, f"{kind} would be rebuilt as {mine.kind}")
        if mine.shape != their.shape:
            raise NotExpressible(name, f"output {_dims(their.shape)} would be rebuilt as {_dims(mine.shape)}")
        if mine.params != their.params:
            raise NotExpressible(name, f"{their.params} params would be rebuilt as {mine.params}")
        if mine.config != their.config:
            diff = _differences(mine.config, their.config)
            raise NotExpressible(
                name, f"{kind}({_show(their.config, diff)}); the notation gives {_show(mine.config, diff)}"
            )
        if mine.inputs != their.inputs:
            raise NotExpressible(name, "it would be rebuilt reading other layers (the graph differs)")
    if len(ours) != len(theirs):
        raise NotExpressible(None, f"the model has {len(theirs)} layers but its spec builds {len(ours)}")


__all__ = ["Conversion", "NotExpressible", "convert", "from_keras", "layers_of"]
