"""The intermediate representation: what a spec *means*, independent of text.

Every node is a frozen pydantic model that remembers the span of the token
it came from, so the checker, the builder and the CLI can always point back
at what the user wrote.  Implied pools are resolved by the parser and appear
here as ordinary :class:`Pool` nodes with ``implied=True``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator

from cnnspec.notation.vocabulary import ACTIVATIONS, NAMED_LINE, Activation, AugmentName


def _to_fraction(value: object) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, str)):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    raise ValueError(f"not a rate: {value!r}")


#: A dropout rate, kept exactly (``⅓`` is 1/3) and serialized as ``"1/3"``.
Rate = Annotated[
    Fraction,
    PlainValidator(_to_fraction),
    PlainSerializer(lambda f: str(f), return_type=str),
]

#: Activation letter -> Keras activation name (the table lives in the vocabulary).
KERAS_ACTIVATIONS = ACTIVATIONS


class Span(BaseModel):
    """Where a token sits in its source: 1-based line and column, and length."""

    model_config = ConfigDict(frozen=True)

    line: int
    column: int
    length: int = 1
    #: Set on the nodes that no one wrote: an ``O:`` from ``--classes``, an ``I:``
    #: or ``O:`` from the data.  Such a span has no position (line and column
    #: are 1 only so that old readers keep working); a diagnostic about it
    #: says where the node came from instead of pointing into the text.
    given_by: str | None = None

    @classmethod
    def invented(cls, given_by: str) -> Span:
        """The span of a node made from ``given_by`` (``"--classes"``, ``"the data"``)."""
        return cls(line=1, column=1, given_by=given_by)

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span
    text: str = ""


#: Batch normalization *before* the activation (version 2): ``b`` keeps the
#: layer's bias, ``B`` builds the layer without it (the batch norm's offset
#: takes its place).
PreNorm = Literal["b", "B"]


class Conv(Node):
    """A 2-D convolution: ``64k5s2vRnL2=0.001``; ``64sepk5B`` (version 2)."""

    kind: Literal["conv"] = "conv"
    filters: int
    kernel: tuple[int, int] = (3, 3)
    stride: int = 1
    padding: Literal["same", "valid"] = "same"
    activation: Activation = "R"
    #: ``n``: batch normalization *after* the activation.
    batchnorm: bool = False
    l2: float | None = None
    #: ``b`` / ``B``: batch normalization between the layer and its activation.
    prenorm: PreNorm | None = None
    #: ``sep``: a depthwise-separable convolution (Keras ``SeparableConv2D``).
    separable: bool = False

    @property
    def use_bias(self) -> bool:
        return self.prenorm != "B"


class Depthwise(Node):
    """``dw``: a depthwise convolution that keeps the channel count: ``dws2B``."""

    kind: Literal["depthwise"] = "depthwise"
    kernel: tuple[int, int] = (3, 3)
    stride: int = 1
    padding: Literal["same", "valid"] = "same"
    activation: Activation = "R"
    batchnorm: bool = False
    l2: float | None = None
    prenorm: PreNorm | None = None

    @property
    def use_bias(self) -> bool:
        return self.prenorm != "B"


class Pool(Node):
    """A max or average pool of ``size`` x ``size``: ``p``, ``p3s2``, ``ap3s2z``."""

    kind: Literal["pool"] = "pool"
    op: Literal["max", "avg"] = "max"
    size: int = 2
    implied: bool = False
    #: ``sK``; None when not written: the stride is the size.
    stride: int | None = None
    #: ``z`` pads ("same"); pools are "valid" otherwise.
    padding: Literal["valid", "same"] = "valid"

    @property
    def strides(self) -> int:
        """The stride the layer uses: as written, else the size."""
        return self.size if self.stride is None else self.stride


class BatchNorm(Node):
    """A bare ``n``: batch normalization as a layer of its own (version 2)."""

    kind: Literal["batchnorm"] = "batchnorm"


class ActivationItem(Node):
    """A bare activation letter (``R``, ``T`` …): an activation layer of its own (version 2)."""

    kind: Literal["activation"] = "activation"
    activation: Activation


class GlobalPool(Node):
    """``gap`` / ``gmp``: global average or max pooling (output is flat)."""

    kind: Literal["globalpool"] = "globalpool"
    op: Literal["avg", "max"] = "avg"


class NoPool(Node):
    """``p0``: the implied-pooling rule is off; adds no layer."""

    kind: Literal["nopool"] = "nopool"


class Dropout(Node):
    kind: Literal["dropout"] = "dropout"
    rate: Rate


class Dense(Node):
    """A dense layer; linear unless an activation letter is written."""

    kind: Literal["dense"] = "dense"
    units: int
    activation: Activation = "I"
    batchnorm: bool = False
    l2: float | None = None
    #: ``b`` / ``B`` (version 2): batch normalization before the activation.
    prenorm: PreNorm | None = None

    @property
    def use_bias(self) -> bool:
        return self.prenorm != "B"


class Head(Node):
    """The classifier head ``O: N``: softmax for N > 1, sigmoid for N = 1."""

    kind: Literal["head"] = "head"
    classes: int
    activation: Activation | None = None
    l2: float | None = None

    @property
    def keras_activation(self) -> str:
        if self.activation is not None:
            return KERAS_ACTIVATIONS[self.activation]
        return "softmax" if self.classes > 1 else "sigmoid"


class Augment(Node):
    kind: Literal["augment"] = "augment"
    name: AugmentName
    factor: float | None = None


#: Largest input tensor accepted (values per image): 4096x4096x3.
MAX_INPUT_ELEMENTS = 4096 * 4096 * 3
#: Largest single input dimension.
MAX_INPUT_DIM = 16384


def input_too_large(shape: tuple[int, ...]) -> str | None:
    """The E163 message for an input shape over the documented bound, else None."""
    total = 1
    for d in shape:
        total *= d
    # The per-dimension limit holds for height and width only (version 2): a flat input of N values,
    # read back from a Keras model, is I: 1x1xN, and the total bounds the channels.
    if max(shape[:2]) > MAX_INPUT_DIM or total > MAX_INPUT_ELEMENTS:
        return (
            f"input {'x'.join(map(str, shape))} holds {total:,} values; the largest accepted is "
            f"{MAX_INPUT_ELEMENTS:,} (4096x4096x3) with no height or width over {MAX_INPUT_DIM}"
        )
    return None


class InputShape(Node):
    kind: Literal["input"] = "input"
    height: int
    width: int
    channels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


#: What a residual block may hold.
BlockItem = Annotated[Union[Conv, Depthwise, Pool, Dropout, BatchNorm, ActivationItem], Field(discriminator="kind")]


class Block(Node):
    """``[ … ]+R``: a residual block; its input is added to its output (version 2).

    ``span``/``text`` are the ``[`` token's; ``close``/``close_text`` the ``]+``
    token's (with its activation letter).  The shortcut (identity or a 1x1
    projection) is not written: the checker derives it from the shapes.
    """

    kind: Literal["block"] = "block"
    items: tuple[BlockItem, ...]
    #: The activation after the addition; None for ``]+`` (and ``]+I``).
    activation: Activation | None = None
    close: Span
    close_text: str = "]+"


ConvItem = Annotated[
    Union[Conv, Depthwise, Pool, GlobalPool, NoPool, Dropout, BatchNorm, ActivationItem, Block],
    Field(discriminator="kind"),
]
DenseItem = Annotated[Union[Dense, Dropout, BatchNorm, ActivationItem], Field(discriminator="kind")]


class Spec(BaseModel):
    """One parsed spec.  Sections left out are ``None``; a written section is a
    non-empty tuple.  ``source`` and ``origin`` let diagnostics show the text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    input: InputShape | None = None
    augment: tuple[Augment, ...] | None = None
    conv: tuple[ConvItem, ...] | None = None
    dense: tuple[DenseItem, ...] | None = None
    head: Head | None = None
    origin: str = "<string>"
    source: str = ""
    #: Line in ``source``'s file where this spec starts (1-based): named specs
    #: of a multi-spec file keep their file positions in every span.
    first_line: int = 1

    @property
    def own_text(self) -> str:
        """The spec as written: ``source`` for a spec of its own; for a named spec
        of a multi-spec file its own lines, from its ``name =`` line to the next
        spec's (the parser's rule, :data:`~cnnspec.notation.vocabulary.NAMED_LINE`).
        Empty for a spec built in Python."""
        if self.name is None:
            return self.source
        lines = self.source.splitlines()
        start = self.first_line - 1
        end = start + 1
        while end < len(lines) and not NAMED_LINE.match(lines[end]):
            end += 1
        return "\n".join(lines[start:end])

    @property
    def has_implied_pools(self) -> bool:
        return any(isinstance(i, Pool) and i.implied for i in self.conv or ())

    @property
    def has_blocks(self) -> bool:
        """True when ``C:`` holds a residual block (which turns implied pools off)."""
        return any(isinstance(i, Block) for i in self.conv or ())


class SpecFile(BaseModel):
    """A ``.cnn`` file: one unnamed spec, or several named ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origin: str = "<string>"
    specs: tuple[Spec, ...]

    @property
    def named(self) -> bool:
        return any(s.name is not None for s in self.specs)

    def __getitem__(self, name: str) -> Spec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)
