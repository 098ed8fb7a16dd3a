"""The PNG painter: a :class:`~cnnspec.display.geometry.Picture` through matplotlib's Agg canvas.

The only display module that imports matplotlib, inside :func:`to_png`, so
drawing an SVG or importing :mod:`cnnspec.display.picture` never loads it.
"""

from __future__ import annotations

from pathlib import Path

from cnnspec.display.geometry import Line, Picture, Poly


def to_png(picture: Picture, path: Path | str, scale: float = 2.0) -> None:
    """Paint a :class:`Picture` into a PNG file with matplotlib's Agg canvas.

    One picture unit is one point (1/72 inch), so text sizes carry over.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon

    fig = Figure(figsize=(picture.width / 72, picture.height / 72), dpi=72 * scale, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, picture.width)
    ax.set_ylim(picture.height, 0)
    ax.set_axis_off()
    dashes = (0, (4, 3))
    ha = {"start": "left", "middle": "center", "end": "right"}
    for g in picture.groups:
        for item in g.items:
            if isinstance(item, Poly):
                ax.add_patch(
                    Polygon(
                        item.points,
                        closed=True,
                        facecolor=item.fill,
                        edgecolor=item.stroke if item.width else "none",
                        linewidth=item.width,
                        linestyle=dashes if item.dash else "solid",
                        joinstyle="round",
                    )
                )
            elif isinstance(item, Line):
                ax.add_line(
                    Line2D(
                        (item.x1, item.x2),
                        (item.y1, item.y2),
                        color=item.stroke,
                        linewidth=item.width,
                        linestyle=dashes if item.dash else "solid",
                    )
                )
            else:
                ax.text(
                    item.x,
                    item.y,
                    item.text,
                    fontsize=item.size,
                    ha=ha[item.anchor],
                    va="baseline",
                    color=item.fill,
                    fontweight="bold" if item.bold else "normal",
                    fontstyle="italic" if item.italic else "normal",
                    family="DejaVu Sans Mono" if item.mono else "DejaVu Sans",
                )
    fig.savefig(path, format="png", dpi=72 * scale, facecolor="white")
