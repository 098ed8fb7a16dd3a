"""Spec -> :class:`CheckedSpec`: shapes, parameters, MACs and advice, in pure Python.

Nothing here imports TensorFlow or Keras.  The shape math is two small pure
functions (:mod:`cnnspec.network.shapes`) and every
number is held against the model that :mod:`cnnspec.model.builder` builds, by the
tests, over hand-written and random specs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.network.shapes import Shape, conv_output_size, parse_shape, pool_output_size, shape_text
from cnnspec.notation.ir import (
    KERAS_ACTIVATIONS,
    Augment,
    Conv,
    ConvItem,
    Dense,
    DenseItem,
    Dropout,
    GlobalPool,
    Head,
    NoPool,
    Pool,
    Span,
    Spec,
    input_too_large,
)
from cnnspec.notation.vocabulary import AUGMENT_CLASSES, AUGMENTATIONS, GLOBAL_POOL_CLASSES, POOL_CLASSES

#: Bytes per value: the compiled model is float32.
BYTES_PER_VALUE = 4

#: Augmentation name -> Keras class (from the vocabulary).
AUGMENT_LAYERS = {a.name: a.keras_class for a in AUGMENTATIONS.values()}

#: A layer holding more than this share of all parameters is flagged.
DOMINANT_SHARE = 0.5
#: Parameters plus one image's activations above this many bytes are flagged.
MEMORY_WARNING_BYTES = 16 * 2**30


# Layer and CheckedSpec are results the checker builds from already-valid
# IR, so they are plain frozen dataclasses: no validation to pay for on
# every layer, and no schema to build when `cnnspec check` starts.
@dataclass(frozen=True)
class Layer:
    """One Keras layer of the checked network."""

    name: str
    kind: str  # the Keras class name
    output_shape: Shape
    params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    macs: int = 0
    implied: bool = False
    #: The item as written (``"16n"``), or ``""`` for layers with no token.
    text: str = ""
    span: Span | None = None
    #: Short human description: ``3x3 s1 same relu``.
    detail: str = ""

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)


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
            layers=[
                {
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
                for layer in self.layers
            ],
            warnings=[d.to_dict() for d in self.warnings],
            errors=[d.to_dict() for d in self.errors],
        )
        return out


# --------------------------------------------------------------------------
# The checker


@dataclass
class _Walk:
    spec: Spec
    layers: list[Layer]
    errors: list[Diagnostic]
    shape: Shape
    counters: dict[str, int]

    def next_index(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def add(self, **kw: object) -> None:
        layer = Layer(**kw)  # type: ignore[arg-type]
        self.layers.append(layer)
        self.shape = layer.output_shape

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(
            Diagnostic(code=code, message=message, span=span, hint=hint, origin=self.spec.origin, spec=self.spec.name)
        )


def _add_conv(w: _Walk, item: Conv, index: int) -> bool:
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
    act = KERAS_ACTIVATIONS[item.activation]
    w.add(
        name=f"conv{index}",
        kind="Conv2D",
        output_shape=(oh, ow, item.filters),
        params=params,
        trainable_params=params,
        macs=oh * ow * item.filters * kh * kw * cin,
        text=item.text,
        span=item.span,
        detail=f"{kh}x{kw} s{item.stride} {item.padding} {act}" + (f" L2={item.l2:g}" if item.l2 else ""),
    )
    if item.batchnorm:
        _add_batchnorm(w, f"conv{index}_bn", item)
    return True


def _add_batchnorm(w: _Walk, name: str, item: Conv | Dense) -> None:
    channels = w.shape[-1]
    w.add(
        name=name,
        kind="BatchNormalization",
        output_shape=w.shape,
        params=4 * channels,
        trainable_params=2 * channels,
        non_trainable_params=2 * channels,
        text=item.text,
        span=item.span,
        detail="after activation",
    )


def _add_pool(w: _Walk, item: Pool, index: int) -> bool:
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
    kind = POOL_CLASSES[item.op]
    w.add(
        name=f"pool{index}",
        kind=kind,
        output_shape=(oh, ow, c),
        implied=item.implied,
        text="" if item.implied else item.text,
        span=item.span,
        detail=f"{item.size}x{item.size}" + (" implied" if item.implied else ""),
    )
    return True


def _add_dense(w: _Walk, name: str, units: int, activation: str, item: Dense | Head) -> None:
    fan_in = w.shape[-1]
    params = fan_in * units + units
    w.add(
        name=name,
        kind="Dense",
        output_shape=(units,),
        params=params,
        trainable_params=params,
        macs=fan_in * units,
        text=item.text,
        span=item.span,
        detail=activation + (f" L2={item.l2:g}" if item.l2 else ""),
    )


def _flatten(w: _Walk) -> None:
    if len(w.shape) > 1:
        w.add(name="flatten", kind="Flatten", output_shape=(math.prod(w.shape),), detail="")


def _dropout(w: _Walk, item: Dropout) -> None:
    w.add(
        name=f"dropout{w.next_index('dropout')}",
        kind="Dropout",
        output_shape=w.shape,
        text=item.text,
        span=item.span,
        detail=f"rate {float(item.rate):g}",
    )


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

    w = _Walk(spec, [], errors, shape, {})
    _walk(w, spec, n_classes)
    warnings = _advice(spec, w.layers) if not w.errors else []
    return CheckedSpec(
        spec=spec,
        input_shape=shape,
        classes=n_classes,
        layers=tuple(w.layers),
        errors=tuple(w.errors),
        warnings=tuple(warnings),
        head_from_data=n_classes is None,
    )


def _walk(w: _Walk, spec: Spec, classes: int | None) -> None:
    for aug in spec.augment or ():
        w.add(
            name=f"aug_{aug.name}",
            kind=AUGMENT_LAYERS[aug.name],
            output_shape=w.shape,
            text=aug.text,
            span=aug.span,
            detail=_augment_detail(aug),
        )
    w.add(name="rescaling", kind="Rescaling", output_shape=w.shape, detail="1/255")
    conv_i = pool_i = 0
    for item in spec.conv or ():
        if isinstance(item, Conv):
            conv_i += 1
            if not _add_conv(w, item, conv_i):
                return
        elif isinstance(item, Pool):
            pool_i += 1
            if not _add_pool(w, item, pool_i):
                return
        elif isinstance(item, GlobalPool):
            w.add(
                name="gap" if item.op == "avg" else "gmp",
                kind=GLOBAL_POOL_CLASSES[item.op],
                output_shape=(w.shape[-1],),
                text=item.text,
                span=item.span,
                detail="global " + item.op,
            )
        elif isinstance(item, Dropout):
            _dropout(w, item)
        elif isinstance(item, NoPool):
            pass
    _flatten(w)
    dense_i = 0
    for d in spec.dense or ():
        if isinstance(d, Dense):
            dense_i += 1
            _add_dense(w, f"dense{dense_i}", d.units, KERAS_ACTIVATIONS[d.activation], d)
            if d.batchnorm:
                _add_batchnorm(w, f"dense{dense_i}_bn", d)
        else:
            _dropout(w, d)
    if classes is not None:
        head = spec.head or Head(span=Span(line=1, column=1), text=str(classes), classes=classes)
        _add_dense(w, "head", head.classes, head.keras_activation, head)


def _augment_detail(aug: Augment) -> str:
    mode = AUGMENTATIONS[aug.name].flip_mode
    return mode or (f"factor {aug.factor:g}" if aug.factor is not None else "")


# --------------------------------------------------------------------------
# Practitioners' advice


def _advice(spec: Spec, layers: list[Layer]) -> list[Diagnostic]:
    out: list[Diagnostic] = []

    def warn(code: str, message: str, span: Span | None, hint: str) -> None:
        out.append(
            Diagnostic(
                code=code, severity="warning", message=message, span=span, hint=hint, origin=spec.origin, spec=spec.name
            )
        )

    body = [layer for layer in layers if layer.kind not in ("Rescaling",) and layer.kind not in AUGMENT_CLASSES]
    previous_shape: dict[str, Shape] = {}
    prev: Layer | None = None
    for layer in layers:
        if prev is not None:
            previous_shape[layer.name] = prev.output_shape
        prev = layer

    # Dropout right after a convolution (batch norm aside), not after pooling.
    for i, layer in enumerate(body):
        if layer.kind != "Dropout" or i == 0:
            continue
        j = i - 1
        while j > 0 and body[j].kind == "BatchNormalization":
            j -= 1
        if body[j].kind == "Conv2D":
            warn(
                "W501",
                f"dropout '{layer.text}' comes directly after the convolution '{body[j].text}', not after a pool",
                layer.span,
                "practitioners place dropout after the pooling layer that closes a block of convolutions",
            )

    # Two linear dense layers in a row collapse into one.
    dense = [layer for layer in body if layer.kind in ("Dense",)]
    for a, b in itertools.pairwise(dense):
        if a.detail.split(" ")[0] == "linear" and b.detail.split(" ")[0] == "linear":
            warn(
                "W502",
                f"dense layers '{a.text}' and '{b.text}' are both linear: together they are one linear map",
                b.span,
                f"give the first an activation, such as {a.text}R",
            )

    # One layer holding most of the parameters.
    total = sum(layer.params for layer in layers)
    param_layers = [layer for layer in layers if layer.params]
    if total and len(param_layers) >= 3:
        big = max(param_layers, key=lambda layer: layer.params)
        share = big.params / total
        if share > DOMINANT_SHARE:
            fed = previous_shape.get(big.name, ())
            if (
                big.kind == "Dense"
                and any(layer.kind == "Flatten" for layer in layers)
                and big.name
                in (
                    "dense1",
                    "head",
                )
            ):
                flat = next(layer for layer in layers if layer.kind == "Flatten")
                src = previous_shape.get(flat.name, ())
                hint = (
                    f"it reads the flattened {shape_text(src)} map ({math.prod(src):,} values): pool more, "
                    "use fewer filters in the last convolution, or end C: with gap"
                )
            elif big.kind == "Dense":
                hint = f"it maps {fed[-1] if fed else '?'} inputs: use fewer units here or in the layer before"
            else:
                hint = "use fewer filters or a smaller kernel here or in the convolution before it"
            warn(
                "W503",
                f"layer {big.name} ('{big.text}') holds {share:.0%} of the {total:,} parameters ({big.params:,})",
                big.span,
                hint,
            )

    # Batch norm and dropout in the same block.
    for bn_layer, drop in _bn_dropout_blocks(spec):
        warn(
            "W504",
            f"batch norm ('{bn_layer.text}') and dropout ('{drop.text}') in the same block: using both can make "
            "accuracy worse",
            drop.span,
            f"train once without '{drop.text}': if validation accuracy holds, keep batch norm alone",
        )

    # A pool over an odd size drops the last row or column.
    for layer in layers:
        if layer.kind not in ("MaxPooling2D", "AveragePooling2D"):
            continue
        h, wd, _ = previous_shape[layer.name]
        size = int(layer.detail.split("x")[0])
        lost = [f"{h % size} row(s)" if h % size else "", f"{wd % size} column(s)" if wd % size else ""]
        lost = [x for x in lost if x]
        if lost:
            what = "the implied pool after" if layer.implied else "pool"
            warn(
                "W505",
                f"{what} '{layer.text or _span_text(spec, layer.span)}' pools {h}x{wd} by {size}: "
                f"it drops the last {' and '.join(lost)}",
                layer.span,
                "use sizes divisible by the pool, or 'same' padding with a stride instead",
            )
    # A network too big for any one machine: training would fail late and obscurely.
    total_bytes = (sum(layer.params for layer in layers) + sum(layer.output_size for layer in layers)) * BYTES_PER_VALUE
    if total_bytes > MEMORY_WARNING_BYTES:
        warn(
            "W506",
            f"the parameters and one image's activations alone take {total_bytes / 2**30:,.1f} GiB "
            "(float32); training needs several times that",
            None,
            "fewer filters or units, more pooling, or a smaller input",
        )
    return out


def _span_text(spec: Spec, span: Span | None) -> str:
    for item in spec.conv or ():
        if span is not None and item.span == span and isinstance(item, Conv):
            return item.text
    return "p"


def _bn_dropout_blocks(spec: Spec) -> list[tuple[Conv | Dense, Dropout]]:
    """Blocks that hold both batch norm and dropout: (first BN layer, first dropout).

    A block in C: is a run of convolutions with the pool that closes it and
    the dropouts right after that pool; in D: a dense layer and its dropouts.
    """
    blocks: list[list[ConvItem | DenseItem]] = []
    current: list[ConvItem | DenseItem] = []
    closed = False
    for conv_item in spec.conv or ():
        if closed and not isinstance(conv_item, Dropout):
            blocks.append(current)
            current, closed = [], False
        current.append(conv_item)
        if isinstance(conv_item, (Pool, GlobalPool)):
            closed = True
    if current:
        blocks.append(current)
    current = []
    for dense_item in spec.dense or ():
        if isinstance(dense_item, Dense) and current:
            blocks.append(current)
            current = []
        current.append(dense_item)
    if current:
        blocks.append(current)
    found: list[tuple[Conv | Dense, Dropout]] = []
    for block in blocks:
        bn = [i for i in block if isinstance(i, (Conv, Dense)) and i.batchnorm]
        drops = [i for i in block if isinstance(i, Dropout)]
        if bn and drops:
            found.append((bn[0], drops[0]))
    return found
