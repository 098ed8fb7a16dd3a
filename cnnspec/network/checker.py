"""Spec -> :class:`CheckedSpec`: shapes, parameters, MACs and advice, in pure Python.

Nothing here imports TensorFlow or Keras.  The shape math is two small pure
functions (:mod:`cnnspec.network.shapes`) and every number is held against
the model that :mod:`cnnspec.model.builder` builds, by the tests, over
hand-written and random specs.  The builder builds from the layers this
module lists, so the names, the order and the implied pools are decided here
once.  The advice (W501-W508) reads those layers in :mod:`cnnspec.network.advice`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.network.advice import advise
from cnnspec.network.layers import BYTES_PER_VALUE, Layer, Origin, Role, Shortcut
from cnnspec.network.shapes import Shape, conv_output_size, parse_shape, pool_output_size, shape_text
from cnnspec.notation.ir import (
    ActivationItem,
    BatchNorm,
    Block,
    Conv,
    ConvItem,
    Dense,
    Depthwise,
    Dropout,
    GlobalPool,
    Head,
    Node,
    NoPool,
    Pool,
    Span,
    Spec,
    input_too_large,
)
from cnnspec.notation.vocabulary import ACTIVATIONS, AUGMENTATIONS, GLOBAL_POOL_CLASSES, POOL_CLASSES

__all__ = ["AUGMENT_LAYERS", "BYTES_PER_VALUE", "NO_IMPLIED_POOLS", "CheckedSpec", "Layer", "Origin", "check"]

#: Augmentation name -> Keras class (from the vocabulary).
AUGMENT_LAYERS = {a.name: a.keras_class for a in AUGMENTATIONS.values()}


@dataclass(frozen=True)
class CheckedSpec:
    """The result of :func:`check`: layers, totals and diagnostics."""

    spec: Spec
    input_shape: Shape | None
    classes: int | None
    layers: tuple[Layer, ...]
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    #: True when there is no ``O:`` and no ``--classes``: the body is checked
    #: and the head will come from the data's class count.
    head_from_data: bool = False
    #: What ``check`` says besides errors and warnings (version 2: "no implied
    #: pools: the section holds a residual block").
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params for layer in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return sum(layer.non_trainable_params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def param_bytes(self) -> int:
        return self.total_params * BYTES_PER_VALUE

    @property
    def activation_bytes(self) -> int:
        """Bytes of all layer outputs for one image (input included), float32."""
        inputs = math.prod(self.input_shape) if self.input_shape else 0
        return (inputs + sum(layer.output_size for layer in self.layers)) * BYTES_PER_VALUE

    @property
    def output_shape(self) -> Shape | None:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` form: totals, layers, warnings and errors."""
        out: dict[str, object] = {}
        if self.spec.name is not None:
            out["name"] = self.spec.name
        out.update(
            valid=self.ok,
            input_shape=list(self.input_shape) if self.input_shape else None,
            classes=self.classes,
            head_from_data=self.head_from_data,
            total_params=self.total_params,
            trainable_params=self.trainable_params,
            non_trainable_params=self.non_trainable_params,
            macs=self.macs,
            param_bytes=self.param_bytes,
            activation_bytes=self.activation_bytes,
            output_shape=list(self.output_shape) if self.output_shape and self.ok else None,
            layers=[_layer_dict(layer) for layer in self.layers],
            warnings=[d.to_dict() for d in self.warnings],
            errors=[d.to_dict() for d in self.errors],
        )
        if self.notes:  # only where there are some: a version-1 spec's JSON is as it was
            out["notes"] = list(self.notes)
        return out


def _layer_dict(layer: Layer) -> dict[str, object]:
    """One layer of the ``--json`` form; ``block``, ``shortcut`` and ``role`` only where they
    are set (version 2), so a version-1 spec's JSON is as it was."""
    out: dict[str, object] = {
        "name": layer.name,
        "kind": layer.kind,
        "output_shape": list(layer.output_shape),
        "params": layer.params,
        "trainable_params": layer.trainable_params,
        "non_trainable_params": layer.non_trainable_params,
        "macs": layer.macs,
        "implied": layer.implied,
        "text": layer.text,
    }
    for key in ("block", "shortcut", "role"):
        value = getattr(layer, key)
        if value is not None:
            out[key] = value
    return out


# --------------------------------------------------------------------------
# The checker: one handler per kind of item


@dataclass
class _LayerWalk:
    spec: Spec
    layers: list[Layer]
    errors: list[Diagnostic]
    shape: Shape
    counters: dict[str, int]
    #: The number of the residual block being walked, else None.
    block: int | None = None

    def next_index(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def add(self, layer: Layer) -> None:
        self.layers.append(layer)
        self.shape = layer.output_shape

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(
            Diagnostic(code=code, message=message, span=span, hint=hint, origin=self.spec.origin, spec=self.spec.name)
        )


def _conv(w: _LayerWalk, item: Conv) -> bool:
    """A convolution (``sep`` too) and its own layers: batch norm and activation of ``b``/``B``, ``n``."""
    return _convolution(w, item, item.filters, "sepconv" if item.separable else "conv")


def _depthwise(w: _LayerWalk, item: Depthwise) -> bool:
    """``dw``: a depthwise convolution, as many channels out as in."""
    return _convolution(w, item, w.shape[-1], "dwconv")


def _convolution(w: _LayerWalk, item: Conv | Depthwise, filters: int, prefix: str) -> bool:
    h, wd, cin = w.shape
    kh, kw = item.kernel
    oh = conv_output_size(h, kh, item.stride, item.padding)
    ow = conv_output_size(wd, kw, item.stride, item.padding)
    what = "depthwise conv" if isinstance(item, Depthwise) else "conv"
    if oh < 1 or ow < 1:
        w.error(
            "E401",
            f"{what} '{item.text}' receives {shape_text(w.shape)} and would output "
            f"{oh}x{ow}x{filters}: a {kh}x{kw} {item.padding} kernel needs at least {kh}x{kw}",
            item.span,
            "use 'same' padding (drop v), a smaller kernel, or fewer pools before it",
        )
        return False
    bias = filters if item.use_bias else 0
    if isinstance(item, Depthwise):
        kind, params, macs = "DepthwiseConv2D", kh * kw * cin + bias, oh * ow * cin * kh * kw
    elif item.separable:
        kind = "SeparableConv2D"
        params, macs = kh * kw * cin + cin * filters + bias, oh * ow * cin * (kh * kw + filters)
    else:
        kind, params, macs = "Conv2D", kh * kw * cin * filters + bias, oh * ow * filters * kh * kw * cin
    name = f"{prefix}{w.next_index(prefix)}"
    w.add(
        Layer(
            name=name,
            kind=kind,
            output_shape=(oh, ow, filters),
            params=params,
            trainable_params=params,
            macs=macs,
            item=item,
            activation="linear" if item.prenorm else ACTIVATIONS[item.activation],
            kernel=item.kernel,
            stride=item.stride,
            padding=item.padding,
            l2=item.l2,
            use_bias=item.use_bias,
            block=w.block,
        )
    )
    _own_layers(w, name, item)
    return True


def _own_layers(w: _LayerWalk, name: str, item: Conv | Depthwise | Dense) -> None:
    """What a layer's modifiers add after it: ``b``/``B``'s batch norm and activation
    (none for ``I``), then ``n``'s batch norm."""
    if item.prenorm:
        _batchnorm(w, f"{name}_bn", item)
        if item.activation != "I":
            _activation(w, f"{name}_act", item, ACTIVATIONS[item.activation])
    if item.batchnorm:
        _batchnorm(w, f"{name}_bn", item)


def _batchnorm(w: _LayerWalk, name: str, item: Node, role: Role | None = None) -> None:
    channels = w.shape[-1]
    w.add(
        Layer(
            name=name,
            kind="BatchNormalization",
            output_shape=w.shape,
            params=4 * channels,
            trainable_params=2 * channels,
            non_trainable_params=2 * channels,
            item=item,
            block=w.block,
            role=role,
        )
    )


def _activation(w: _LayerWalk, name: str, item: Node, activation: str, role: Role | None = None) -> None:
    w.add(
        Layer(
            name=name,
            kind="Activation",
            output_shape=w.shape,
            item=item,
            activation=activation,
            block=w.block,
            role=role,
        )
    )


def _bare_batchnorm(w: _LayerWalk, item: BatchNorm) -> bool:
    _batchnorm(w, f"bn{w.next_index('bn')}", item)
    return True


def _bare_activation(w: _LayerWalk, item: ActivationItem) -> bool:
    _activation(w, f"act{w.next_index('act')}", item, ACTIVATIONS[item.activation])
    return True


def _pool(w: _LayerWalk, item: Pool) -> bool:
    h, wd, c = w.shape
    stride = item.strides
    oh = pool_output_size(h, item.size, stride, item.padding)
    ow = pool_output_size(wd, item.size, stride, item.padding)
    if oh < 1 or ow < 1:
        what = "implied pool" if item.implied else f"pool '{item.text}'"
        w.error(
            "E402",
            f"{what} receives {shape_text(w.shape)} and would output {oh}x{ow}x{c}: "
            f"a {item.size}x{item.size} pool needs at least {item.size}x{item.size}",
            item.span,
            "write p0 or explicit pools where you want them"
            if item.implied
            else "remove this pool or pool less before it",
        )
        return False
    w.add(
        Layer(
            name=f"pool{w.next_index('pool')}",
            kind=POOL_CLASSES[item.op],
            output_shape=(oh, ow, c),
            item=item,
            origin="implied" if item.implied else "written",
            pool_size=item.size,
            pool_stride=stride,
            pool_padding=item.padding,
            block=w.block,
        )
    )
    return True


def _block(w: _LayerWalk, item: Block) -> bool:
    """A residual block: its items' layers, then the rows of its ``]+``: the projection
    (when the shapes differ), the ``Add`` and the activation after it."""
    number = w.next_index("block")
    shape_in = w.shape
    w.block = number
    try:
        if not all(_HANDLERS[sub.kind](w, sub) for sub in item.items):  # type: ignore[operator]
            return False
        return _shortcut(w, item, number, shape_in)
    finally:
        w.block = None


def _block_stride(item: Block) -> int:
    """The product of the strides of the block's convolutions and pools."""
    stride = 1
    for sub in item.items:
        if isinstance(sub, (Conv, Depthwise)):
            stride *= sub.stride
        elif isinstance(sub, Pool):
            stride *= sub.strides
    return stride


def _shortcut(w: _LayerWalk, item: Block, number: int, shape_in: Shape) -> bool:
    out = w.shape
    shortcut: Shortcut = "identity"
    if out != shape_in:
        h, wd, cin = shape_in
        stride = _block_stride(item)
        projected = (-(-h // stride), -(-wd // stride), out[-1])
        if projected != out:
            w.error(
                "E406",
                f"no shortcut fits the block: it receives {shape_text(shape_in)} and outputs {shape_text(out)}, "
                f"but a 1x1 projection of stride {stride} (the product of its strides) gives "
                f"{shape_text(projected)}",
                item.close,
                "make the block's reductions 'same'-padded: p3s2z for a pool, strided convolutions without v",
            )
            return False
        shortcut = "projection"
        w.add(
            Layer(
                name=f"block{number}_proj",
                kind="Conv2D",
                output_shape=out,
                params=cin * out[-1] + out[-1],
                trainable_params=cin * out[-1] + out[-1],
                macs=out[0] * out[1] * cin * out[-1],
                item=item,
                activation="linear",
                kernel=(1, 1),
                stride=stride,
                padding="same",
                block=number,
                role="projection",
            )
        )
    w.add(
        Layer(
            name=f"block{number}_add",
            kind="Add",
            output_shape=out,
            item=item,
            block=number,
            shortcut=shortcut,
            role="add",
        )
    )
    if item.activation is not None and item.activation != "I":
        _activation(w, f"block{number}_act", item, ACTIVATIONS[item.activation], role="block_activation")
    return True


def _global_pool(w: _LayerWalk, item: GlobalPool) -> bool:
    w.add(
        Layer(
            name="gap" if item.op == "avg" else "gmp",
            kind=GLOBAL_POOL_CLASSES[item.op],
            output_shape=(w.shape[-1],),
            item=item,
        )
    )
    return True


def _dropout(w: _LayerWalk, item: Dropout) -> bool:
    w.add(
        Layer(
            name=f"dropout{w.next_index('dropout')}",
            kind="Dropout",
            output_shape=w.shape,
            item=item,
            rate=item.rate,
            block=w.block,
        )
    )
    return True


def _no_pool(w: _LayerWalk, item: ConvItem) -> bool:
    return True  # p0 only switches the implied pools off; the parser applied it


def _dense(w: _LayerWalk, item: Dense) -> bool:
    name = f"dense{w.next_index('dense')}"
    _dense_layer(w, name, item.units, "linear" if item.prenorm else ACTIVATIONS[item.activation], item)
    _own_layers(w, name, item)
    return True


def _dense_layer(
    w: _LayerWalk, name: str, units: int, activation: str, item: Dense | Head, origin: Origin = "written"
) -> None:
    fan_in = w.shape[-1]
    use_bias = not isinstance(item, Dense) or item.use_bias
    params = fan_in * units + (units if use_bias else 0)
    w.add(
        Layer(
            name=name,
            kind="Dense",
            output_shape=(units,),
            params=params,
            trainable_params=params,
            macs=fan_in * units,
            item=item,
            origin=origin,
            activation=activation,
            l2=item.l2,
            use_bias=use_bias,
        )
    )


#: IR item kind -> the handler that adds its layers; False stops the walk (an error).
_HANDLERS = {
    "conv": _conv,
    "depthwise": _depthwise,
    "batchnorm": _bare_batchnorm,
    "activation": _bare_activation,
    "block": _block,
    "pool": _pool,
    "globalpool": _global_pool,
    "dropout": _dropout,
    "nopool": _no_pool,
    "dense": _dense,
}


def _input_to_check(spec: Spec, input_shape: Shape | None, err: Callable[..., None]) -> tuple[Shape | None, bool]:
    """The input to check with (``I:``, else the one given) and whether it can be used (E403, E163)."""
    shape: Shape | None = spec.input.shape if spec.input else None
    if spec.input and input_shape and tuple(input_shape) != spec.input.shape:
        err(
            "E403",
            f"I: {spec.input.text} disagrees with the input given ({shape_text(tuple(input_shape))})",
            spec.input.span,
            "drop --input or change I:",
        )
    if shape is None and input_shape is not None:
        shape = tuple(input_shape)
        too_large = input_too_large(shape)
        if too_large:
            err("E163", f"--input: {too_large}", None, "give a smaller input: the model resizes images on load")
            return None, False
    return shape, True


def check(
    spec: Spec,
    input_shape: Shape | str | None = None,
    classes: int | None = None,
) -> CheckedSpec:
    """Check a parsed spec: every layer's output shape, params and MACs.

    ``input_shape`` (``(H, W, C)`` or ``"HxWxC"``) stands in for a missing
    ``I:``; ``classes`` for a missing ``O:``.  Errors (a map that shrinks
    below 1x1, a missing input, a disagreement) land in ``errors``; advice in
    ``warnings``.  Nothing is raised for an invalid network.

    >>> from cnnspec import parse
    >>> c = check(parse("I: 28x28x1 C: 32 64 D: 10"))
    >>> c.output_shape, c.total_params
    ((10,), 50826)
    """
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape)
    errors: list[Diagnostic] = []

    def err(code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        errors.append(Diagnostic(code=code, message=message, span=span, hint=hint, origin=spec.origin, spec=spec.name))

    shape, usable = _input_to_check(spec, input_shape, err)
    if not usable:
        return CheckedSpec(spec=spec, input_shape=None, classes=None, layers=(), errors=tuple(errors))
    if spec.head and classes is not None and classes != spec.head.classes:
        err(
            "E404",
            f"O: {spec.head.classes} disagrees with the {classes} classes given",
            spec.head.span,
            f"write O: {classes}, or leave O: out and let the data decide",
        )
    n_classes = spec.head.classes if spec.head else classes
    if shape is None:
        err(
            "E400",
            "no input shape: the spec has no I: and none was given",
            None,
            "write I: 32x32x3 or pass --input 32x32x3",
        )
        return CheckedSpec(spec=spec, input_shape=None, classes=n_classes, layers=(), errors=tuple(errors))

    w = _LayerWalk(spec, [], errors, shape, {})
    _walk(w, spec, n_classes)
    warnings = advise(spec, w.layers) if not w.errors else []
    return CheckedSpec(
        spec=spec,
        input_shape=shape,
        classes=n_classes,
        layers=tuple(w.layers),
        errors=tuple(w.errors),
        warnings=tuple(warnings),
        head_from_data=n_classes is None,
        notes=_notes(spec),
    )


#: The note of a ``C:`` whose residual block turned the implied pools off.
NO_IMPLIED_POOLS = "no implied pools: the section holds a residual block"


def _notes(spec: Spec) -> tuple[str, ...]:
    """The notes of a spec: a ``C:`` with a block and no pooling item of its own has no
    implied pools because of the block, which the reader may not expect."""
    if not spec.has_blocks:
        return ()
    items = [sub for item in spec.conv or () for sub in (item.items if isinstance(item, Block) else (item,))]
    if any(isinstance(item, (Pool, GlobalPool, NoPool)) for item in items):
        return ()
    return (NO_IMPLIED_POOLS,)


def _walk(w: _LayerWalk, spec: Spec, classes: int | None) -> None:
    for aug in spec.augment or ():
        w.add(Layer(name=f"aug_{aug.name}", kind=AUGMENT_LAYERS[aug.name], output_shape=w.shape, item=aug))
    w.add(Layer(name="rescaling", kind="Rescaling", output_shape=w.shape, origin="frame"))
    for item in spec.conv or ():
        if not _HANDLERS[item.kind](w, item):  # type: ignore[operator]
            return
    if len(w.shape) > 1:
        w.add(Layer(name="flatten", kind="Flatten", output_shape=(math.prod(w.shape),), origin="frame"))
    for d in spec.dense or ():
        _HANDLERS[d.kind](w, d)  # type: ignore[operator]
    if classes is not None:
        if spec.head is not None:
            _dense_layer(w, "head", spec.head.classes, spec.head.keras_activation, spec.head)
        else:
            head = Head(span=Span.invented("--classes"), text=str(classes), classes=classes)
            _dense_layer(w, "head", classes, head.keras_activation, head, origin="classes")
