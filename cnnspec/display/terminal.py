"""Rich renderings for the terminal: the check table and the diagnostics.

Pure functions from checked data to rich renderables; the CLI prints them.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cnnspec.display.elision import MAX_ROWS, elide, hidden_text
from cnnspec.display.residual import block_mark, has_blocks
from cnnspec.errors import Diagnostic, UserError, excerpt, more_text, shown_and_rest
from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.shapes import human, human_bytes, shape_text
from cnnspec.network.sources import SpecResult
from cnnspec.notation.formatter import format_spec


def check_table(checked: CheckedSpec) -> Table:
    """The layer table, in the spirit of ``model.summary()``.

    A network of more than :data:`~cnnspec.display.elision.MAX_ROWS` layers
    shows its first and last layers and a row that counts the rest.  A spec
    with residual blocks has a ``block`` column: ``┌ 1`` on block 1's first
    layer, ``│ 1`` inside it, ``└ 1`` on the last of the rows its ``]+``
    builds (the projection, the addition, the activation after it).
    """
    title = checked.spec.name or "spec"
    table = Table(title=f"{title}: {format_spec(checked.spec)}", title_justify="left", show_lines=False)
    blocks = has_blocks(checked.layers)
    table.add_column("#", justify="right", style="dim")
    if blocks:
        table.add_column("block", style="magenta")
    table.add_column("layer")
    table.add_column("kind")
    table.add_column("item", style="cyan")
    table.add_column("output", justify="right")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("", style="dim")
    gap = [""] if blocks else []
    if checked.input_shape:
        table.add_row("", *gap, "input", "InputLayer", "", shape_text(checked.input_shape), "0", "0", "raw 0-255")
    first, hidden, last = elide(checked.layers, MAX_ROWS)
    for i, layer in enumerate(first, 1):
        _layer_row(table, i, layer, [block_mark(checked.layers, i - 1)] if blocks else [])
    if hidden:
        table.add_row("…", *gap, f"{hidden:,} more", "", "", "", "", "", "", style="dim")
        table.caption = f"{hidden_text(hidden)} not shown: cnnspec check --json lists every one"
        table.caption_justify = "left"
    for i, layer in enumerate(last, len(first) + hidden + 1):
        _layer_row(table, i, layer, [block_mark(checked.layers, i - 1)] if blocks else [])
    return table


def _layer_row(table: Table, i: int, layer: Layer, block: list[str]) -> None:
    note = "implied" if layer.implied else layer.detail
    table.add_row(
        str(i),
        *block,
        layer.name,
        layer.kind,
        layer.text,
        shape_text(layer.output_shape),
        f"{layer.params:,}",
        human(layer.macs) if layer.macs else "0",
        note,
        style="italic" if layer.implied else None,
    )


def totals(checked: CheckedSpec) -> Text:
    t = Text()
    t.append(f"Total params: {checked.total_params:,}", style="bold")
    t.append(f"  (trainable {checked.trainable_params:,}, non-trainable {checked.non_trainable_params:,})\n")
    t.append(f"MACs: {checked.macs:,} ({human(checked.macs)})  ")
    t.append(f"params: {human_bytes(checked.param_bytes)}  activations/image: {human_bytes(checked.activation_bytes)}")
    if checked.head_from_data:
        t.append(
            "\nno O: and no --classes: the head (softmax over the data's classes) will come from the data", "yellow"
        )
    for note in checked.notes:
        t.append(f"\nnote: {note}", "yellow")
    return t


def diagnostic(d: Diagnostic, source: str) -> Text:
    """One diagnostic with its source line and caret."""
    color = "red" if d.severity == "error" else "yellow"
    t = Text()
    t.append(f"{d.location}: ", style="bold")
    t.append(f"{d.severity}[{d.code}]", style=f"bold {color}")
    t.append(f": {d.message}")
    if d.spec:
        t.append(f" (spec {d.spec})", style="dim")
    ex = excerpt(d, source)
    if ex is not None:
        t.append("\n  " + ex.line)
        t.append("\n  " + ex.caret, style=f"bold {color}")
    if d.hint:
        t.append("\n  hint: ", style="cyan")
        t.append(d.hint)
    return t


def result(res: SpecResult) -> RenderableType:
    """Everything ``cnnspec check`` prints for one spec."""
    parts: list[RenderableType] = []
    if res.checked is not None and res.checked.layers:
        parts.append(check_table(res.checked))
        if res.checked.ok:
            parts.append(totals(res.checked))
    shown, rest = shown_and_rest(res.errors + res.warnings)
    parts += [diagnostic(d, res.source) for d in shown]
    parts += [Text(more_text(n, spec), style="dim") for spec, n in rest.items()]
    status = Text()
    label = f"{res.name}: " if res.name else ""
    if res.ok:
        n = len(res.warnings)
        status.append(f"{label}valid", style="bold green")
        if n:
            status.append(f" with {n} warning{'s' * (n != 1)}", style="yellow")
    else:
        n = len(res.errors)
        status.append(f"{label}invalid: {n} error{'s' * (n != 1)}", style="bold red")
    parts.append(status)
    return Group(*parts)


def user_error(err: UserError) -> Text:
    """A :class:`~cnnspec.errors.UserError` for the terminal: the plain rendering
    (:func:`cnnspec.errors.render_user_error`) with its colours.  Built as :class:`Text`,
    so brackets in a path or a message are never read as markup."""
    text = Text.assemble(("error:", "bold red"), " ", err.message)
    if err.hint:
        text.append("\n  ")
        text.append("hint:", style="cyan")
        text.append(f" {err.hint}")
    return text
