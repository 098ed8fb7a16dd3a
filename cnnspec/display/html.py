"""Rich display in Jupyter: a parsed or checked spec shows its layer table.

``Spec._repr_html_`` and ``CheckedSpec._repr_html_`` call these pure
functions, so a notebook cell that ends in ``cnnspec.parse(...)`` or
``cnnspec.check(...)`` renders the same table as ``cnnspec check``.  Every
string that comes from a spec (names, items, messages) is escaped.
"""

from __future__ import annotations

from html import escape

from cnnspec.display.elision import MAX_ROWS, elide, hidden_text
from cnnspec.display.residual import block_mark, has_blocks
from cnnspec.errors import Diagnostic, excerpt, more_text, shown_and_rest
from cnnspec.network.checker import CheckedSpec, Layer, check
from cnnspec.network.shapes import shape_text
from cnnspec.notation.formatter import format_spec
from cnnspec.notation.ir import Spec

_STYLE = (
    "<style>"
    ".cnnspec table{border-collapse:collapse;font-size:12px}"
    ".cnnspec th,.cnnspec td{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}"
    ".cnnspec td.l,.cnnspec th.l{text-align:left}"
    ".cnnspec tr.implied td{font-style:italic;color:#777}"
    ".cnnspec .err{color:#b00}.cnnspec .warn{color:#a60}"
    ".cnnspec pre{margin:2px 0 6px 0}"
    ".cnnspec td.blk{color:#a0a;font-family:monospace}.cnnspec .note{color:#777}"
    "</style>"
)


_COLUMNS = ("#", "layer", "kind", "item", "output", "params", "MACs")
_LEFT = frozenset({"block", "layer", "kind", "item"})


def _diagnostic(d: Diagnostic, source: str) -> str:
    cls = "err" if d.severity == "error" else "warn"
    out = f'<div class="{cls}"><b>{escape(d.location)}: {d.severity}[{escape(d.code)}]</b>: {escape(d.message)}'
    ex = excerpt(d, source)
    if ex is not None:
        out += f"<pre>{escape(ex.line)}\n{ex.caret}</pre>"
    if d.hint:
        out += f"<div>hint: {escape(d.hint)}</div>"
    return out + "</div>"


def _row(i: int, layer: Layer, block: str | None) -> str:
    cls = ' class="implied"' if layer.implied else ""
    cell = "" if block is None else f"<td class='l blk'>{escape(block)}</td>"
    return (
        f"<tr{cls}><td>{i}</td>{cell}<td class='l'>{escape(layer.name)}</td><td class='l'>{escape(layer.kind)}</td>"
        f"<td class='l'><code>{escape(layer.text)}</code></td><td>{shape_text(layer.output_shape)}</td>"
        f"<td>{layer.params:,}</td><td>{layer.macs:,}</td></tr>"
    )


def checked_html(checked: CheckedSpec) -> str:
    """The check table, totals and diagnostics of a checked spec, as HTML.

    Like the terminal table, at most :data:`~cnnspec.display.elision.MAX_ROWS` layer rows,
    and a ``block`` column (``┌ 1``, ``│ 1``, ``└ 1``) when the spec has residual blocks.
    """
    spec = checked.spec
    title = (escape(spec.name) + ": " if spec.name else "") + f"<code>{escape(format_spec(spec))}</code>"
    layers = checked.layers
    blocks = has_blocks(layers)
    gap = "<td></td>" if blocks else ""
    rows = []
    if checked.input_shape:
        rows.append(
            f'<tr><td></td>{gap}<td class="l">input</td><td class="l">InputLayer</td><td></td>'
            f"<td>{shape_text(checked.input_shape)}</td><td>0</td><td>0</td></tr>"
        )
    first, hidden, last = elide(layers, MAX_ROWS)
    numbered = [*enumerate(first, 1), *enumerate(last, len(first) + hidden + 1)]
    cells = [_row(i, layer, block_mark(layers, i - 1) if blocks else None) for i, layer in numbered]
    rows += cells[: len(first)]
    if hidden:
        span = 7 if blocks else 6
        rows.append(f'<tr class="implied"><td>…</td><td class="l" colspan="{span}">{hidden_text(hidden)}</td></tr>')
    rows += cells[len(first) :]
    columns = ("#", "block", "layer", "kind", "item", "output", "params", "MACs") if blocks else _COLUMNS
    head = "".join(f'<th class="l">{h}</th>' if h in _LEFT else f"<th>{h}</th>" for h in columns)
    parts = [_STYLE, '<div class="cnnspec">', f"<div>{title}</div>"]
    if rows:
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if checked.ok and checked.layers:
        parts.append(
            f"<div><b>Total params: {checked.total_params:,}</b> (trainable {checked.trainable_params:,}, "
            f"non-trainable {checked.non_trainable_params:,}) &middot; MACs: {checked.macs:,}</div>"
        )
    parts += [f'<div class="note">note: {escape(note)}</div>' for note in checked.notes]
    source = spec.source
    shown, rest = shown_and_rest((*checked.errors, *checked.warnings))
    parts += [_diagnostic(d, source) for d in shown]
    parts += [f"<div>{escape(more_text(n, name))}</div>" for name, n in rest.items()]
    status = "valid" if checked.ok else f"invalid: {len(checked.errors)} error(s)"
    parts.append(f'<div class="{"" if checked.ok else "err"}"><b>{status}</b></div></div>')
    return "".join(parts)


def spec_html(spec: Spec) -> str:
    """A parsed spec shows its check (without an ``I:`` the table says what is missing)."""
    return checked_html(check(spec))
