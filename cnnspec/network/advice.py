"""Practitioners' advice on a valid network: W501-W506, one function per rule.

Each rule reads the checked layers' typed fields (never the display text)
and returns its warnings; :func:`advise` runs :data:`RULES` in order, so the
warnings come out rule by rule, in the order of the codes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from cnnspec.errors import Diagnostic
from cnnspec.network.layers import BYTES_PER_VALUE, Layer
from cnnspec.network.shapes import Shape, gib, shape_text
from cnnspec.notation.ir import Augment, Conv, ConvItem, Dense, DenseItem, Dropout, GlobalPool, Pool, Span, Spec

#: A layer holding more than this share of all parameters is flagged (W503).
DOMINANT_SHARE = 0.5
#: Parameters plus one image's activations above this many bytes are flagged (W506).
MEMORY_WARNING_BYTES = 16 * 2**30

Rule = Callable[[Spec, Sequence[Layer]], list[Diagnostic]]


def _warning(spec: Spec, code: str, message: str, span: Span | None, hint: str) -> Diagnostic:
    return Diagnostic(
        code=code, severity="warning", message=message, span=span, hint=hint, origin=spec.origin, spec=spec.name
    )


def _body(layers: Sequence[Layer]) -> list[Layer]:
    """The layers the spec's C: and D: made: no augmentation, no rescaling."""
    return [layer for layer in layers if layer.kind != "Rescaling" and not isinstance(layer.item, Augment)]


def w501_dropout_after_conv(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Dropout right after a convolution (batch norm aside), not after pooling."""
    out = []
    body = _body(layers)
    for i, layer in enumerate(body):
        if layer.kind != "Dropout" or i == 0:
            continue
        j = i - 1
        while j > 0 and body[j].kind == "BatchNormalization":
            j -= 1
        if body[j].kind == "Conv2D":
            out.append(
                _warning(
                    spec,
                    "W501",
                    f"dropout '{layer.text}' comes directly after the convolution '{body[j].text}', not after a pool",
                    layer.span,
                    "practitioners place dropout after the pooling layer that closes a block of convolutions",
                )
            )
    return out


def w502_linear_dense_pair(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Two linear dense layers in a row collapse into one."""
    dense = [layer for layer in _body(layers) if layer.kind == "Dense"]
    return [
        _warning(
            spec,
            "W502",
            f"dense layers '{a.text}' and '{b.text}' are both linear: together they are one linear map",
            b.span,
            f"give the first an activation, such as {a.text}R",
        )
        for a, b in itertools.pairwise(dense)
        if a.activation == "linear" and b.activation == "linear"
    ]


def w503_dominant_layer(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """One layer holding most of the parameters."""
    total = sum(layer.params for layer in layers)
    param_layers = [layer for layer in layers if layer.params]
    if not total or len(param_layers) < 3:
        return []
    big = max(param_layers, key=lambda layer: layer.params)
    share = big.params / total
    if share <= DOMINANT_SHARE:
        return []
    before = _input_shapes(layers)
    flat = next((layer for layer in layers if layer.kind == "Flatten"), None)
    if big.kind == "Dense" and flat is not None and big.name in ("dense1", "head"):
        src = before.get(flat.name, ())
        hint = (
            f"it reads the flattened {shape_text(src)} map ({math.prod(src):,} values): pool more, "
            "use fewer filters in the last convolution, or end C: with gap"
        )
    elif big.kind == "Dense":
        fed = before.get(big.name, ())
        hint = f"it maps {fed[-1] if fed else '?'} inputs: use fewer units here or in the layer before"
    else:
        hint = "use fewer filters or a smaller kernel here or in the convolution before it"
    return [
        _warning(
            spec,
            "W503",
            f"layer {big.name} ({big.what}) holds {share:.0%} of the {total:,} parameters ({big.params:,})",
            big.span,
            hint,
        )
    ]


def w504_batchnorm_and_dropout(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Batch norm and dropout in the same block."""
    return [
        _warning(
            spec,
            "W504",
            f"batch norm ('{bn_layer.text}') and dropout ('{drop.text}') in the same block: using both can make "
            "accuracy worse",
            drop.span,
            f"train once without '{drop.text}': if validation accuracy holds, keep batch norm alone",
        )
        for bn_layer, drop in _bn_dropout_blocks(spec)
    ]


def w505_pool_drops_edge(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """A pool over an odd size drops the last row or column."""
    out = []
    before = _input_shapes(layers)
    for layer in layers:
        size = layer.pool_size
        if size is None:
            continue
        h, wd, _ = before[layer.name]
        lost = [f"{h % size} row(s)" if h % size else "", f"{wd % size} column(s)" if wd % size else ""]
        lost = [x for x in lost if x]
        if lost:
            what = "the implied pool after" if layer.implied else "pool"
            out.append(
                _warning(
                    spec,
                    "W505",
                    f"{what} '{layer.text or _conv_text_at(spec, layer.span)}' pools {h}x{wd} by {size}: "
                    f"it drops the last {' and '.join(lost)}",
                    layer.span,
                    "use sizes divisible by the pool, or 'same' padding with a stride instead",
                )
            )
    return out


def w506_memory(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """A network too big for any one machine: training would fail late and obscurely."""
    total_bytes = (sum(layer.params for layer in layers) + sum(layer.output_size for layer in layers)) * BYTES_PER_VALUE
    if total_bytes <= MEMORY_WARNING_BYTES:
        return []
    return [
        _warning(
            spec,
            "W506",
            # gib(): integer arithmetic, so totals beyond a float's range print (issue 14)
            f"the parameters and one image's activations alone take {gib(total_bytes)} GiB "
            "(float32); training needs several times that",
            None,
            "fewer filters or units, more pooling, or a smaller input",
        )
    ]


#: The rules, in the order their warnings are reported.
RULES: tuple[Rule, ...] = (
    w501_dropout_after_conv,
    w502_linear_dense_pair,
    w503_dominant_layer,
    w504_batchnorm_and_dropout,
    w505_pool_drops_edge,
    w506_memory,
)


def advise(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Every rule's warnings on the layers of a valid network, rule by rule."""
    return [d for rule in RULES for d in rule(spec, layers)]


def _input_shapes(layers: Sequence[Layer]) -> dict[str, Shape]:
    """Layer name -> the shape it receives (the first layer's is unknown here)."""
    return {b.name: a.output_shape for a, b in itertools.pairwise(layers)}


def _conv_text_at(spec: Spec, span: Span | None) -> str:
    """The text of the convolution an implied pool follows (it carries that conv's span)."""
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
