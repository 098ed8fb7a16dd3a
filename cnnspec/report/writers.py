"""The report as Markdown (PNGs and SVGs beside it) or as one self-contained HTML page, and
:func:`write_report`, which reads the runs, draws the pictures and writes the page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from urllib.parse import quote

from cnnspec.report.plots import NO_PICTURE, curves_png, network_svg, pareto_png, picture_file_name
from cnnspec.report.table import (
    HEADERS,
    MARGIN,
    UNSTABLE,
    WINDOW,
    NoUsableRunError,
    Report,
    ReportError,
    build_report,
    cells,
    legend,
    marks,
)

# --------------------------------------------------------------------------
# Markdown


def _md_text(s: str) -> str:
    """Plain text in a Markdown table cell: no markup, no raw HTML, no cell break."""
    s = escape(s, quote=False).replace("\n", " ")
    return re.sub(r"([\\`*_\[\]|#!])", r"\\\1", s)


def _md_code(s: str) -> str:
    """A code span that holds any text (raw HTML inside a code span is never markup)."""
    s = s.replace("\n", " ").replace("|", "\\|")
    if not s:
        return ""
    ticks = "`" * (max((len(x) for x in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _md_link(path: str) -> str:
    """A relative path as a link destination (a space or a parenthesis would end it)."""
    return quote(path, safe="/")


def markdown(report: Report, images: dict[str, str] | None = None, networks: Sequence[str | None] | None = None) -> str:
    """The report as Markdown; ``images`` maps ``pareto``/``curves`` to relative PNG paths;
    ``networks`` holds, row by row, the relative path of the run's picture (``None``: none)."""
    lines = ["# Experiment report", ""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "|".join([":-:", "---", "---"] + ["--:"] * 7 + ["---"]) + "|")
    for r in report.rows:
        c = cells(r)
        c[1] = _md_text(c[1])
        c[2] = _md_code(c[2])
        c[10] = _md_text(c[10])
        lines.append("| " + " | ".join(c) + " |")
    lines.append("")
    lines += [f"- {_md_text(x)}" for x in legend(report)]
    invalid = [s for s in report.skipped if s.status == "invalid"]
    over = [s for s in report.skipped if s.status == "over-budget"]
    if invalid:
        lines += ["", "## Not trained (invalid specs)", ""]
        for s in invalid:
            lines.append(f"- {_md_text(s.name)}: {_md_code(s.spec)}")
    if over:
        lines += ["", "## Not trained (over budget)", ""]
        lines += [f"- {_md_text(s.name)}: {_md_code(s.spec)} ({_md_text(s.errors)})" for s in over]
    if report.problems:
        lines += ["", "## Not read (damaged files)", ""]
        lines += [f"- {_md_text(str(p))}" for p in report.problems]
    for key, title in (("pareto", "Validation accuracy against parameters"), ("curves", "Training curves")):
        if images and key in images:
            lines += ["", f"## {title}", "", f"![{title}]({_md_link(images[key])})"]
    if networks is not None:
        lines += ["", "## Networks"]
        for r, path in zip(report.rows, networks, strict=True):
            name = _md_text(r.name)
            lines += ["", f"### {(marks(r) + ' ' + name).strip()}", "", _md_code(r.spec), ""]
            lines.append(f"![{name}]({_md_link(path)})" if path else f"({NO_PICTURE})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
td.t,th.t{text-align:left}
tr.best td{background:#eef7ee} tr.unstable td.status{color:#b00}
code{font-size:12px}
img{max-width:100%}
td:nth-child(2){white-space:nowrap} td:nth-child(3){min-width:15em}
td.net svg{width:480px;max-width:none;height:auto}
"""


def html(report: Report, images: dict[str, bytes] | None = None, networks: Sequence[str | None] | None = None) -> str:
    """A self-contained HTML page: every string from a spec or a path escaped, PNGs inline.

    ``networks`` holds, row by row, the run's picture as SVG text (from
    :func:`network_svg`; ``None``: none), shown inline in a last column at 480 px (its 9-11 px
    labels were unreadable scaled down to a 360 px thumbnail).
    """
    text_cols = {1, 2, 10}
    headers = HEADERS + (("network",) if networks is not None else ())
    head = "".join(f'<th class="{"t" if i in text_cols else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for i, r in enumerate(report.rows):
        c = [escape(x, quote=True) for x in cells(r)]
        c[2] = f"<code>{c[2]}</code>"
        classes = " ".join(k for k, on in (("best", r.best), ("smallest", r.smallest), ("unstable", r.unstable)) if on)
        tds = "".join(
            f'<td class="{"t" if i in text_cols else ""}{" status" if i == 10 else ""}">{x}</td>'
            for i, x in enumerate(c)
        )
        if networks is not None:
            svg = networks[i]
            tds += f'<td class="t net">{svg}</td>' if svg else f'<td class="t net" title="{NO_PICTURE}">–</td>'
        body.append(f'<tr class="{classes}" title="{escape(str(r.run_dir), quote=True)}">{tds}</tr>')
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Experiment report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Experiment report</h1>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in legend(report)) + "</ul>",
    ]
    invalid = [s for s in report.skipped if s.status == "invalid"]
    over = [s for s in report.skipped if s.status == "over-budget"]
    if invalid:
        parts.append("<h2>Not trained (invalid specs)</h2><ul>")
        for s in invalid:
            parts.append(f"<li>{escape(s.name)}: <code>{escape(s.spec)}</code><pre>{escape(s.errors)}</pre></li>")
        parts.append("</ul>")
    if over:
        parts.append("<h2>Not trained (over budget)</h2><ul>")
        parts += [f"<li>{escape(s.name)}: <code>{escape(s.spec)}</code> ({escape(s.errors)})</li>" for s in over]
        parts.append("</ul>")
    if report.problems:
        parts.append("<h2>Not read (damaged files)</h2><ul>")
        parts += [f"<li>{escape(str(p))}</li>" for p in report.problems]
        parts.append("</ul>")
    for key, title in (("pareto", "Validation accuracy against parameters"), ("curves", "Training curves")):
        if images and images.get(key):
            data = base64.b64encode(images[key]).decode("ascii")
            parts.append(f'<h2>{title}</h2><img alt="{title}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Entry point


def write_report(
    paths: Sequence[str | Path],
    out: str | Path,
    margin: float = MARGIN,
    window: int = WINDOW,
    unstable: float = UNSTABLE,
    plots: bool = True,
    pictures: bool = True,
) -> tuple[Report, list[Path]]:
    """Write ``out`` (``.md`` with PNGs beside it, or ``.html`` with PNGs inline).

    ``plots``: the Pareto and curves PNGs.  ``pictures``: each run's network
    (:mod:`cnnspec.display.picture`): SVG files in ``<out stem>-networks/`` linked from a
    per-run section of the Markdown, or inline in each row of the HTML.
    Damaged runs are left out (``report.problems``); when no run is usable
    nothing is written and :class:`NoUsableRunError` is raised.  An ``out``
    that cannot be written raises :class:`~cnnspec.atomic.WriteError` before
    any run is read.

    Returns the report and every file written.
    """
    from cnnspec import atomic

    out = Path(out)
    if out.suffix.lower() not in (".md", ".html", ".htm"):
        raise ReportError(f"{out}: the report is written as .md or .html")
    atomic.check_writable(out)
    if pictures and out.suffix.lower() == ".md":
        atomic.check_writable(out.with_name(f"{out.stem}-networks") / "network.svg")
    report = build_report(paths, margin, window, unstable)
    if not report.rows and report.problems:
        raise NoUsableRunError(report.problems)
    svgs = [network_svg(r) for r in report.rows] if pictures else None
    pngs = {"pareto": pareto_png(report), "curves": curves_png(report)} if plots else {}
    written: list[Path] = []
    if out.suffix.lower() == ".md":
        rel: dict[str, str] = {}
        for key, data in pngs.items():
            if data:
                png = out.with_name(f"{out.stem}-{key}.png")
                atomic.write_bytes(png, data)
                rel[key] = png.name
                written.append(png)
        links: list[str | None] | None = None
        if svgs is not None:
            folder = out.with_name(f"{out.stem}-networks")
            links = []
            for i, (r, svg) in enumerate(zip(report.rows, svgs, strict=True), 1):
                if svg is None:
                    links.append(None)
                    continue
                path = folder / picture_file_name(i, r.name)
                atomic.write_text(path, svg)  # makes the folder
                written.append(path)
                links.append(f"{folder.name}/{path.name}")
        atomic.write_text(out, markdown(report, rel, links))
    else:
        atomic.write_text(out, html(report, {k: v for k, v in pngs.items() if v}, svgs))
    written.insert(0, out)
    return report, written
