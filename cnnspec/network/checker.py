"""Spec -> :class:`CheckedSpec`: shapes, parameters, MACs and advice, in pure Python.

Nothing here imports TensorFlow or Keras.  The shape math is two small pure
functions (:mod:`cnnspec.network.shapes`) and every number is held against
the model that :mod:`cnnspec.model.builder` builds, by the tests, over
hand-written and random specs.  The builder builds from the layers this
module lists, so the names, the order and the implied pools are decided here
once.  The advice (W501-W506) reads those layers in :mod:`cnnspec.network.advice`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.network.advice import advise
from cnnspec.network.layers import BYTES_PER_VALUE, Layer, Origin
from cnnspec.network.shapes import Shape, conv_output_size, parse_shape, pool_output_size, shape_text
from cnnspec.notation.ir import (
    Conv,
    ConvItem,
    Dense,
    Dropout,
    GlobalPool,
    Head,
    Pool,
    Span,
    Spec,
    input_too_large,
)
from cnnspec.notation.vocabulary import ACTIVATIONS, AUGMENTATIONS, GLOBAL_POOL_CLASSES, POOL_CLASSES

__all__ = ["AUGMENT_LAYERS", "BYTES_PER_VALUE", "CheckedSpec", "Layer", "Origin", "check"]

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
    h, wd, cin = w.shape
    kh, kw = item.kernel
    oh = conv_output_size(h, kh, item.stride, item.padding)
    ow = conv_output_size(wd, kw, item.stride, item.padding)
    if oh < 1 or ow < 1:
        w.error(
            "E401",
            f"conv '{item.text}' receives {shape_text(w.shape)} and would output "
            f"{oh}x{ow}x{item.filters}: a {kh}x{kw} {item.padding} kernel needs at least {kh}x{kw}",
            item.span,
            "use 'same' padding (drop v), a smaller kernel, or fewer pools before it",
        )
        return False
    params = kh * kw * cin * item.filters + item.filters
    name = f"conv{w.next_index('conv')}"
    w.add(
        Layer(
            name=name,
            kind="Conv2D",
            output_shape=(oh, ow, item.filters),
            params=params,
            trainable_params=params,
            macs=oh * ow * item.filters * kh * kw * cin,
            item=item,
            activation=ACTIVATIONS[item.activation],
            kernel=item.kernel,
            stride=item.stride,
            padding=item.padding,
            l2=item.l2,
        )
    )
    if item.batchnorm:
        _batchnorm(w, f"{name}_bn", item)
    return True


def _batchnorm(w: _LayerWalk, name: str, item: Conv | Dense) -> None:
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
        )
    )


def _pool(w: _LayerWalk, item: Pool) -> bool:
    h, wd, c = w.shape
    oh, ow = pool_output_size(h, item.size), pool_output_size(wd, item.size)
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
        )
    )
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
        )
    )
    return True


def _no_pool(w: _LayerWalk, item: ConvItem) -> bool:
    return True  # p0 only switches the implied pools off; the parser applied it


def _dense(w: _LayerWalk, item: Dense) -> bool:
    name = f"dense{w.next_index('dense')}"
    _dense_layer(w, name, item.units, ACTIVATIONS[item.activation], item)
    if item.batchnorm:
        _batchnorm(w, f"{name}_bn", item)
    return True


def _dense_layer(
    w: _LayerWalk, name: str, units: int, activation: str, item: Dense | Head, origin: Origin = "written"
) -> None:
    fan_in = w.shape[-1]
    params = fan_in * units + units
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
        )
    )


#: IR item kind -> the handler that adds its layers; False stops the walk (an error).
_HANDLERS = {
    "conv": _conv,
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
    )


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
