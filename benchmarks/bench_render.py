"""How fast are the displays of a long network?  Prints the figures issue 14 asks for.

    python benchmarks/bench_render.py [--layers 10 100 1000 5000] [--png] [--runs 3]

For specs of N layers (half convolutions, half dense layers), the best of
``--runs`` in-process times of: parse + check, the ``cnnspec check`` table
(rich, to a string), the ``--json`` form, the notebook HTML, and the SVG of
both picture styles (``--png``: the PNGs too, through matplotlib).  Displays
show at most ``MAX_ROWS`` rows / ``MAX_COLUMNS`` columns (the first and the
last, and a count between), so their time must stop growing with N while
checking keeps growing linearly.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def spec_of(n: int) -> str:
    """A valid spec of about ``n`` layers: 3x3 convolutions (no pooling), then dense layers."""
    half = max(1, n // 2)
    return f"I: 32x32x3 C: {' '.join(['8'] * half)} p0 D: {' '.join(['8R'] * half)} O: 10"


def best(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[10, 100, 1000, 5000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--png", action="store_true", help="also time the PNGs (matplotlib)")
    args = ap.parse_args()

    from cnnspec.display.elision import MAX_COLUMNS, MAX_ROWS

    print(f"displays show at most {MAX_ROWS} rows / {MAX_COLUMNS} columns; best of {args.runs} runs, in ms")
    cols = ["check", "table", "json", "html", "svg blocks", "svg table"] + (["png blocks", "png table"] * args.png)
    print(f"{'layers':>7} " + " ".join(f"{c:>11}" for c in cols))
    tmp = Path(tempfile.mkdtemp())
    for n in args.layers:
        layers, timings = measure(spec_of(n), args.runs, args.png, tmp)
        print(f"{layers:>7} " + " ".join(f"{t * 1000:>11.1f}" for t in timings))


def measure(text: str, runs: int, png: bool, tmp: Path) -> tuple[int, list[float]]:
    """(layer count, seconds of each display) for one spec."""
    from rich.console import Console

    from cnnspec import check, parse
    from cnnspec.display import html, picture, terminal

    checked = check(parse(text))
    assert checked.ok, checked.errors

    def table() -> None:
        Console(file=io.StringIO(), width=120, color_system=None).print(terminal.check_table(checked))

    timings = [
        best(lambda: check(parse(text)), runs),
        best(table, runs),
        best(lambda: json.dumps(checked.to_dict()), runs),
        best(lambda: html.checked_html(checked), runs),
        best(lambda: picture.draw_svg(checked, "blocks"), runs),
        best(lambda: picture.draw_svg(checked, "table"), runs),
    ]
    if png:
        timings += [
            best(lambda: picture.draw_png(checked, tmp / "b.png", "blocks"), 1),
            best(lambda: picture.draw_png(checked, tmp / "t.png", "table"), 1),
        ]
    return len(checked.layers), timings


if __name__ == "__main__":
    main()
