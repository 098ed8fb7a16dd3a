"""Practitioners' advice on a valid network: W501-W508, one function per rule.

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
from cnnspec.notation.ir import (
    ActivationItem,
    BatchNorm,
    Block,
    Conv,
    ConvItem,
    Dense,
    DenseItem,
    Depthwise,
    Dropout,
    GlobalPool,
    Node,
    Pool,
    Span,
    Spec,
)
from cnnspec.notation.vocabulary import ACTIVATION_LETTERS, AUGMENT_CLASSES

#: A layer holding more than this share of all parameters is flagged (W503).
DOMINANT_SHARE = 0.5
#: Parameters plus one image's activations above this many bytes are flagged (W506).
MEMORY_WARNING_BYTES = 16 * 2**30

Rule = Callable[[Spec, Sequence[Layer]], list[Diagnostic]]

#: The Keras classes of the convolutions (``sep`` and ``dw`` are kinds of convolution).
CONV_KINDS = frozenset({"Conv2D", "SeparableConv2D", "DepthwiseConv2D"})
#: The layers before the spec's C: and D: (``_body`` leaves them out).
_FRAME_KINDS = AUGMENT_CLASSES | {"Rescaling"}
#: Layers a look-back passes over: they sit between a layer and what follows it.
_NORM_AND_ACTIVATION = frozenset({"BatchNormalization", "Activation"})


def _warning(spec: Spec, code: str, message: str, span: Span | None, hint: str) -> Diagnostic:
    return Diagnostic(
        code=code, severity="warning", message=message, span=span, hint=hint, origin=spec.origin, spec=spec.name
    )


def _body(layers: Sequence[Layer]) -> list[Layer]:
    """The layers the spec's C: and D: made: no augmentation, no rescaling."""
    # by kind, not isinstance: four rules call this on every layer of every check
    return [layer for layer in layers if layer.kind not in _FRAME_KINDS]


def w501_dropout_after_conv(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """Dropout right after a convolution (batch norms and activation layers aside), not after pooling."""
    out = []
    body = _body(layers)
    for i, layer in enumerate(body):
        if layer.kind != "Dropout" or i == 0:
            continue
        j = i - 1
        while j > 0 and body[j].kind in _NORM_AND_ACTIVATION:
            j -= 1
        if body[j].kind in CONV_KINDS and body[j].role is None:
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
    """Two linear dense layers in a row collapse into one.

    A dense layer is linear when no activation follows it before the next dense
    layer: not its own, not the one after its ``b``, not a bare activation item
    (batch normalization does not count).
    """
    body = _body(layers)
    dense = [i for i, layer in enumerate(body) if layer.kind == "Dense"]
    ends = [*dense[1:], len(body)]

    def linear(k: int) -> bool:
        start, end = dense[k], ends[k]
        return body[start].activation == "linear" and not any(
            body[j].kind == "Activation" and body[j].activation != "linear" for j in range(start + 1, end)
        )

    return [
        _warning(
            spec,
            "W502",
            f"dense layers '{body[dense[k]].text}' and '{body[dense[k + 1]].text}' are both linear: "
            "together they are one linear map",
            body[dense[k + 1]].span,
            f"give the first an activation, such as {body[dense[k]].text}R",
        )
        for k in range(len(dense) - 1)
        if linear(k) and linear(k + 1)
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
    """A "valid" pool that drops the last rows or columns, or skips some between its windows.

    A pool of size k and stride s over a length H >= k drops the last
    (H - k) mod s rows, and skips s - k rows between windows when s > k.  With
    s = k this is version 1's rule; pools with ``z`` never warn.
    """
    out = []
    before = _input_shapes(layers)
    for layer in layers:
        size = layer.pool_size
        if size is None or layer.pool_padding == "same":
            continue
        stride = layer.pool_stride or size
        h, wd, _ = before[layer.name]
        lost = [f"{(h - size) % stride} row(s)" if (h - size) % stride else ""]
        lost.append(f"{(wd - size) % stride} column(s)" if (wd - size) % stride else "")
        lost = [x for x in lost if x]
        problems = [f"drops the last {' and '.join(lost)}"] if lost else []
        windows = min(layer.output_shape[0], layer.output_shape[1])
        if stride > size and windows > 1:
            problems.append(f"skips {stride - size} row(s) and column(s) between its windows")
        if problems:
            what = "the implied pool after" if layer.implied else "pool"
            by = f"by {size}" if stride == size else f"by {size} with stride {stride}"
            out.append(
                _warning(
                    spec,
                    "W505",
                    f"{what} '{layer.text or _conv_text_at(spec, layer.span)}' pools {h}x{wd} {by}: "
                    f"it {' and '.join(problems)}",
                    layer.span,
                    "use sizes divisible by the pool, or 'same' padding with a stride instead, or pad it: p2z, p3s2z",
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


def w507_stacked_activation(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """A bare activation right after a layer that already applies one (a batch norm between aside)."""
    out = []
    body = _body(layers)
    for i, layer in enumerate(body):
        if not isinstance(layer.item, ActivationItem) or i == 0:
            continue
        j = i - 1
        while j > 0 and body[j].kind == "BatchNormalization":
            j -= 1
        prev = body[j]
        applies = prev.kind in CONV_KINDS or prev.kind in ("Dense", "Activation")
        if not applies or prev.activation in (None, "linear"):
            continue
        letter = layer.item.activation
        out.append(
            _warning(
                spec,
                "W507",
                f"activation '{layer.text}' comes right after '{prev.text}', which already applies "
                f"{prev.activation}: the two are stacked",
                layer.span,
                _stacked_hint(prev, letter),
            )
        )
    return out


def _stacked_hint(prev: Layer, letter: str) -> str:
    if isinstance(prev.item, Block):
        return f"write ]+{letter} for one activation after the addition"
    if isinstance(prev.item, ActivationItem):
        return "keep one of the two activations"
    return f"write {_with_activation(prev.text, letter)}, or {_with_activation(prev.text, 'I')} {letter}"


def w508_b_without_activation(spec: Spec, layers: Sequence[Layer]) -> list[Diagnostic]:
    """``b`` on a layer without an activation: the batch norm before nothing is ``n``."""
    return [
        _warning(
            spec,
            "W508",
            f"'{layer.text}': b on a layer without an activation is the same as n "
            "(batch normalization after the layer)",
            layer.span,
            f"write {_with_activation(layer.text, 'R')} if an activation was meant, "
            f"or {layer.text.replace('b', 'n')} for this network",
        )
        for layer in _body(layers)
        if isinstance(layer.item, (Conv, Depthwise, Dense))
        and layer.item.prenorm == "b"
        and layer.item.activation == "I"
        and (layer.kind in CONV_KINDS or layer.kind == "Dense")
    ]


def _with_activation(text: str, letter: str) -> str:
    """An item's text with its activation letter replaced by ``letter`` (or added): ``16`` -> ``16T``."""
    kept = "".join(ch for ch in text if ch not in ACTIVATION_LETTERS)
    return kept + letter


#: The rules, in the order their warnings are reported.
RULES: tuple[Rule, ...] = (
    w501_dropout_after_conv,
    w502_linear_dense_pair,
    w503_dominant_layer,
    w504_batchnorm_and_dropout,
    w505_pool_drops_edge,
    w506_memory,
    w507_stacked_activation,
    w508_b_without_activation,
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


def _bn_dropout_blocks(spec: Spec) -> list[tuple[Node, Dropout]]:
    """Blocks that hold both batch norm and dropout: (first batch norm, first dropout).

    A block in C: is a run of convolutions with the pool that closes it and
    the dropouts right after that pool (a residual block's ``]+`` closes it as
    a pool does); in D: a dense layer and what follows it up to the next.
    Every batch normalization counts: ``n``, ``b``, ``B``, a bare ``n``.
    """
    blocks: list[list[ConvItem | DenseItem]] = []
    current: list[ConvItem | DenseItem] = []
    closed = False
    for conv_item, closes in _conv_items(spec):
        if closed and not isinstance(conv_item, Dropout):
            blocks.append(current)
            current, closed = [], False
        if not isinstance(conv_item, Block):
            current.append(conv_item)
        if closes:
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
    found: list[tuple[Node, Dropout]] = []
    for block in blocks:
        bn = [i for i in block if _normalizes(i)]
        drops = [i for i in block if isinstance(i, Dropout)]
        if bn and drops:
            found.append((bn[0], drops[0]))
    return found


def _conv_items(spec: Spec) -> list[tuple[ConvItem, bool]]:
    """C:'s items with a residual block's items in line, each with whether it closes a
    W504 block (a pool, and the block's ``]+``, which stands as the Block itself)."""
    out: list[tuple[ConvItem, bool]] = []
    for item in spec.conv or ():
        for sub in item.items if isinstance(item, Block) else (item,):
            out.append((sub, isinstance(sub, (Pool, GlobalPool))))
        if isinstance(item, Block):
            out.append((item, True))
    return out


def _normalizes(item: ConvItem | DenseItem) -> bool:
    if isinstance(item, BatchNorm):
        return True
    return isinstance(item, (Conv, Depthwise, Dense)) and (item.batchnorm or item.prenorm is not None)
