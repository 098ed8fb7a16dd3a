"""A Keras model's layers in the notation's order: one chain, with its residual blocks opened up.

Model -> spec reads a model as the notation writes it: layer after layer, and a
residual block as its main path, then the shortcut's projection (if any), then
the ``Add``, which is the order in which the builder makes them.  A functional
graph is accepted when it is such a chain: every fork is a residual block whose
two paths meet at one ``Add``, one of them the block's input itself or one
layer (the projection).  Nested models (the articles' ``data_augmentation``
``Sequential``) are opened up in place.

Each :class:`Row` keeps the positions of the rows that feed it, so the proof in
:mod:`cnnspec.model.from_keras` compares the wiring of two models as well as
their layers.  Keras is read through ``layer._inbound_nodes``: the public
``layer.input`` of a nested model is its own input, not the tensor it is
called on, and the graph needs the latter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cnnspec.errors import UserError

#: The position of the model's input in :attr:`Row.inputs`.
INPUT = -1


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


@dataclass(frozen=True)
class Row:
    """One layer of the model in the notation's order."""

    layer: Any
    #: Positions (in the row list) of the layers it reads; :data:`INPUT` for the model's input.
    inputs: tuple[int, ...]
    #: 1-based number of the residual block the layer belongs to.
    block: int | None = None
    #: The shortcut's 1x1 convolution, or the block's addition.
    role: Literal["projection", "add"] | None = None
    #: The layer's output shape, without the batch dimension.
    shape: tuple[int | None, ...] = ()

    @property
    def kind(self) -> str:
        return type(self.layer).__name__


@dataclass(frozen=True)
class _Step:
    layer: Any
    inputs: tuple[int, ...]
    shape: tuple[int | None, ...]


def rows_of(model: Any) -> list[Row]:
    """The layers of ``model`` in the notation's order; raises :class:`NotExpressible` where the graph is no chain."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotExpressible(None, f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs")
    steps: list[_Step] = []
    out = _graph(model, steps, INPUT)
    return _order(steps, out)


def _graph(model: Any, steps: list[_Step], start: int) -> int:
    """Append the layers of ``model`` (read on the tensor at ``start``) to ``steps``; the position of its output.

    Walks back from the output through each tensor's ``_keras_history`` (the layer and the call that made
    it), as Keras' own functional models do: a layer's ``_inbound_nodes`` also hold the calls a Sequential
    model makes while it infers shapes, which are no part of the graph.
    """
    import keras

    where = {id(model.inputs[0]): start}
    calls: dict[int, int] = {}  # id(layer) -> id(its call in this graph): a second call is a shared layer
    stack = [model.outputs[0]]
    while stack:
        tensor = stack[-1]
        if id(tensor) in where:
            stack.pop()
            continue
        layer, index, _ = tensor._keras_history
        node = layer._inbound_nodes[index]
        waiting = [t for t in node.input_tensors if id(t) not in where]
        if not node.input_tensors:
            raise NotExpressible(layer.name, "it does not read the model's input")
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        if calls.setdefault(id(layer), id(node)) != id(node):
            raise NotExpressible(layer.name, "it is used more than once (a shared layer)")
        if len(node.output_tensors) != 1:
            raise NotExpressible(layer.name, f"it has {len(node.output_tensors)} outputs")
        inputs = tuple(where[id(t)] for t in node.input_tensors)
        if isinstance(layer, keras.Model):
            if len(inputs) != 1 or len(layer.inputs) != 1 or len(layer.outputs) != 1:
                raise NotExpressible(layer.name, "a nested model with more than one input or output")
            where[id(tensor)] = _graph(layer, steps, inputs[0])
        else:
            steps.append(_Step(layer, inputs, tuple(tensor.shape[1:])))
            where[id(tensor)] = len(steps) - 1
    return where[id(model.outputs[0])]


def _order(steps: list[_Step], out: int) -> list[Row]:
    """Walk from the input to ``out``: layer after layer, each fork a residual block."""
    consumers: dict[int, list[int]] = {}
    for i, step in enumerate(steps):
        for j in step.inputs:
            consumers.setdefault(j, []).append(i)
    rows: list[Row] = []
    new: dict[int, int] = {INPUT: INPUT}

    def place(i: int, block: int | None = None, role: Literal["projection", "add"] | None = None) -> None:
        step = steps[i]
        rows.append(Row(step.layer, tuple(new[j] for j in step.inputs), block, role, step.shape))
        new[i] = len(rows) - 1

    def name(i: int) -> str | None:
        return steps[i].layer.name if i != INPUT else None

    pos, blocks = INPUT, 0
    while True:
        following = consumers.get(pos, [])
        if pos == out:
            if following:
                raise NotExpressible(name(pos), "the model's output is read by other layers too")
            return rows
        if not following:
            raise NotExpressible(name(pos), "its output is not used (a branch that goes nowhere)")
        if len(following) == 1:
            nxt = following[0]
            if len(steps[nxt].inputs) > 1:
                raise NotExpressible(
                    steps[nxt].layer.name, "it merges tensors that are not a residual block's two paths"
                )
            place(nxt)
            pos = nxt
            continue
        if len(following) > 2:
            raise NotExpressible(
                name(pos), f"its output is read by {len(following)} layers; a residual block has two paths"
            )
        blocks += 1
        main, short, merge = _block(steps, consumers, following, out)
        for i in main:
            place(i, blocks)
        for i in short:
            place(i, blocks, "projection")
        place(merge, blocks, "add")
        pos = merge


def _block(
    steps: list[_Step], consumers: dict[int, list[int]], starts: list[int], out: int
) -> tuple[list[int], list[int], int]:
    """The main path, the shortcut (no layer or one) and the merge of the block whose paths start at ``starts``."""
    paths = [_path(steps, consumers, s, out) for s in starts]
    (a, merge_a), (b, merge_b) = paths
    merge = steps[merge_a]
    if merge_a != merge_b or len(merge.inputs) != 2:
        raise NotExpressible(
            merge.layer.name, "the model is not a chain of layers and residual blocks (a branch or a merge)"
        )
    if type(merge.layer).__name__ != "Add":
        raise NotExpressible(
            merge.layer.name, f"{type(merge.layer).__name__} merges two paths; a residual block adds them (Add)"
        )
    if not a and not b:
        raise NotExpressible(merge.layer.name, "Add of a tensor with itself")
    # The shortcut is the path that starts with what looks like a projection (a 1x1 linear Conv2D) when only
    # one does, else the shorter path, else the Add's second operand (the builder writes Add([output, shortcut])).
    second = merge.inputs[1]
    looks = [bool(p) and _projection_like(steps[p[0]].layer) for p in (a, b)]
    if not a or not b:
        main, short = (a, b) if a else (b, a)
    elif looks[0] != looks[1]:
        main, short = (b, a) if looks[0] else (a, b)
    elif len(a) != len(b):
        main, short = (a, b) if len(a) > len(b) else (b, a)
    else:
        main, short = (b, a) if a[-1] == second else (a, b)
    if len(short) > 1:
        layer = steps[short[1]].layer
        raise NotExpressible(
            layer.name,
            f"{type(layer).__name__} on the shortcut of a residual block after '{steps[short[0]].layer.name}': "
            "the notation's shortcut is the block's input or one 1x1 Conv2D of it",
        )
    return main, short, merge_a


def _path(steps: list[_Step], consumers: dict[int, list[int]], start: int, out: int) -> tuple[list[int], int]:
    """The single-input layers from ``start`` up to the first merge, and that merge."""
    path: list[int] = []
    i = start
    while len(steps[i].inputs) == 1:
        path.append(i)
        following = consumers.get(i, [])
        if i == out or not following:
            raise NotExpressible(steps[i].layer.name, "a residual path that never reaches its Add")
        if len(following) > 1:
            raise NotExpressible(
                steps[i].layer.name, "a residual block inside a residual block (the notation nests none)"
            )
        i = following[0]
    return path, i


def _projection_like(layer: Any) -> bool:
    if type(layer).__name__ != "Conv2D":
        return False
    cfg = layer.get_config()
    return tuple(cfg["kernel_size"]) == (1, 1) and cfg["activation"] == "linear"


__all__ = ["INPUT", "NotExpressible", "Row", "rows_of"]
