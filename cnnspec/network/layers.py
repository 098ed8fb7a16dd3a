"""The checked network's layer: a Keras layer's configuration as typed fields.

:class:`Layer` is what :func:`cnnspec.network.checker.check` lists, what the
advice rules (:mod:`cnnspec.network.advice`) and the pictures read, and what
the builder builds: the typed fields are the whole configuration, and the
display text (``detail``) is derived from them, never parsed back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from cnnspec.network.shapes import Shape
from cnnspec.notation.ir import Augment, Block, Conv, Dense, Depthwise, GlobalPool, Node, Span
from cnnspec.notation.vocabulary import AUGMENTATIONS

#: Bytes per value: the compiled model is float32.
BYTES_PER_VALUE = 4

#: Where a layer comes from: a token the user wrote (batch norm is its
#: convolution's), the implied-pooling rule, the head made for ``--classes``,
#: or the frame every model has (the rescaling, the flatten).
Origin = Literal["written", "implied", "classes", "frame"]

#: How a residual block's input reaches its ``Add``: as it is, or through a 1x1 convolution.
Shortcut = Literal["identity", "projection"]

#: The rows a residual block's ``]+`` builds (their span is the block's ``close``):
#: the 1x1 projection of the block's input, the ``Add``, the activation after it.
Role = Literal["projection", "add", "block_activation"]


# Layer and CheckedSpec are results the checker builds from already-valid
# IR, so they are plain frozen dataclasses: no validation to pay for on
# every layer, and no schema to build when `cnnspec check` starts.
@dataclass(frozen=True)
class Layer:
    """One Keras layer of the checked network, with what the builder needs to make it.

    The typed fields are the layer's configuration; ``text``, ``span``,
    ``implied`` and ``detail`` (the table's note, ``3x3 s1 same relu``) are
    derived from them and from ``item``, and nothing reads ``detail`` back.
    """

    name: str
    kind: str  # the Keras class name
    output_shape: Shape
    params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    macs: int = 0
    #: The IR node the layer comes from (a batch norm: its conv or dense);
    #: None for the rescaling and the flatten.
    item: Node | None = None
    origin: Origin = "written"
    #: Keras activation name of a conv or dense layer (``relu``, ``softmax``).
    activation: str | None = None
    kernel: tuple[int, int] | None = None
    stride: int | None = None
    padding: Literal["same", "valid"] | None = None
    #: Side of a pool (its stride too).
    pool_size: int | None = None
    #: The kernel's L2 factor, when it is regularized.
    l2: float | None = None
    #: A dropout's rate.
    rate: Fraction | None = None
    #: False for a layer built without its bias (``B``).
    use_bias: bool = True
    #: The stride and padding of a pool (version 2: ``p3s2z``); None for other layers.
    pool_stride: int | None = None
    pool_padding: Literal["same", "valid"] | None = None
    #: The 1-based number of the residual block the layer belongs to (its items'
    #: layers and the rows of its ``]+``); None outside blocks.  The first layer
    #: with ``block == k`` marks where block k's input is taken: the tensor before it.
    block: int | None = None
    #: On a block's ``Add`` row: whether the input is added as it is or projected.
    shortcut: Shortcut | None = None
    #: The rows tied to a block's ``]+`` (``item`` is the :class:`~cnnspec.notation.ir.Block`).
    role: Role | None = None

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)

    @property
    def implied(self) -> bool:
        """An implied pool: the parser's rule added it, the user wrote no token."""
        return self.origin == "implied"

    @property
    def text(self) -> str:
        """The item as written (``"16n"``; ``"]+R"`` for the rows of a block's ``]+``),
        or ``""`` for layers with no token."""
        if self.item is None or self.origin == "implied":
            return ""
        if self.role is not None and isinstance(self.item, Block):
            return self.item.close_text
        return self.item.text

    @property
    def span(self) -> Span | None:
        """Where the user wrote the layer's item; None for layers with no token of their own
        (the frame, and a head made for ``--classes``, whose node is invented and points nowhere)."""
        if self.item is None or self.origin == "classes":
            return None
        if self.role is not None and isinstance(self.item, Block):
            return self.item.close
        return self.item.span

    @property
    def what(self) -> str:
        """How messages name the item: ``'16n'``, or ``from --classes`` for an invented head."""
        return "from --classes" if self.origin == "classes" else f"'{self.text}'"

    @property
    def detail(self) -> str:
        """Short human description for tables and tooltips: ``3x3 s1 same relu``."""
        l2 = f" L2={self.l2:g}" if self.l2 else ""
        bias = "" if self.use_bias else " no bias"
        if self.kind in _CONV_KINDS:
            assert self.kernel is not None
            kh, kw = self.kernel
            conv = f"{kh}x{kw} s{self.stride} {self.padding} {self.activation}{bias}{l2}"
            return conv + _CONV_KINDS[self.kind] + (" projection" if self.role == "projection" else "")
        if self.kind == "Dense":
            return f"{self.activation}{bias}{l2}"
        if self.pool_size is not None:
            return _pool_detail(self)
        if self.kind == "Add":
            return self.shortcut or ""
        if self.kind == "Activation":
            return self.activation or ""
        if self.kind == "BatchNormalization":
            return _batchnorm_detail(self.item)
        if isinstance(self.item, GlobalPool):
            return "global " + self.item.op
        if self.rate is not None:
            return f"rate {float(self.rate):g}"
        if isinstance(self.item, Augment):
            return _augment_detail(self.item)
        return _FIXED_DETAIL.get(self.kind, "")


_FIXED_DETAIL = {"Rescaling": "1/255"}

#: The convolution classes and what their detail adds to ``3x3 s1 same relu``.
_CONV_KINDS = {"Conv2D": "", "SeparableConv2D": " sep", "DepthwiseConv2D": " dw"}


def _pool_detail(layer: Layer) -> str:
    """``2x2`` (version 1's text, kept), ``3x3 s2``, ``3x3 s2 same``, ``2x2 implied``."""
    k = layer.pool_size
    stride = f" s{layer.pool_stride}" if layer.pool_stride not in (None, k) else ""
    same = " same" if layer.pool_padding == "same" else ""
    return f"{k}x{k}{stride}{same}" + (" implied" if layer.implied else "")


def _batchnorm_detail(item: Node | None) -> str:
    """``after activation`` (``n``), ``before activation`` (``b``, ``B``), ``of its own`` (a bare ``n``)."""
    if isinstance(item, (Conv, Depthwise, Dense)):
        return "after activation" if item.prenorm is None else "before activation"
    return "of its own"


def _augment_detail(aug: Augment) -> str:
    mode = AUGMENTATIONS[aug.name].flip_mode
    return mode or (f"factor {aug.factor:g}" if aug.factor is not None else "")
