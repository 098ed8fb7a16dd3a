"""The SVG painter: a :class:`~cnnspec.display.geometry.Picture` as standalone SVG text.

Plain, deterministic text (golden files hold it): every number is rounded to
one decimal, every string escaped.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from cnnspec.display.geometry import INK, MONO, SANS, Item, Line, Picture, Poly


def _num(v: float) -> str:
    r = round(v, 1)
    return f"{r:g}" if r != 0 else "0"


def _svg_item(item: Item) -> str:
    if isinstance(item, Poly):
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in item.points)
        extra = ' stroke-dasharray="4 3"' if item.dash else ""
        stroke = f' stroke="{item.stroke}" stroke-width="{_num(item.width)}"' if item.width else ' stroke="none"'
        return f'<polygon points="{pts}" fill="{item.fill}"{stroke}{extra} stroke-linejoin="round"/>'
    if isinstance(item, Line):
        extra = ' stroke-dasharray="4 3"' if item.dash else ""
        return (
            f'<line x1="{_num(item.x1)}" y1="{_num(item.y1)}" x2="{_num(item.x2)}" y2="{_num(item.y2)}" '
            f'stroke="{item.stroke}" stroke-width="{_num(item.width)}"{extra}/>'
        )
    attrs = f'x="{_num(item.x)}" y="{_num(item.y)}" font-size="{_num(item.size)}" text-anchor="{item.anchor}"'
    if item.fill != INK:
        attrs += f' fill="{item.fill}"'
    if item.bold:
        attrs += ' font-weight="bold"'
    if item.italic:
        attrs += ' font-style="italic"'
    if item.mono:
        attrs += f' font-family="{MONO}"'
    return f"<text {attrs}>{escape(item.text)}</text>"


def to_svg(picture: Picture) -> str:
    """Paint a :class:`Picture` as standalone SVG text (deterministic)."""
    w, h = _num(picture.width), _num(picture.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{SANS}" fill="{INK}">',
        f"<title>{escape(picture.title)}</title>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for g in picture.groups:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in g.attrs.items())
        out.append(f'<g class="{g.cls}"{attrs}>')
        if g.title:
            out.append(f"<title>{escape(g.title)}</title>")
        out.extend(_svg_item(item) for item in g.items)
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
