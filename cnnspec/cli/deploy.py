"""``cnnspec export``, ``cnnspec predict`` and ``cnnspec from-keras``: thin wrappers.

Nothing heavy is imported here at module import: ``predict`` of an ``.onnx``
file imports ONNX Runtime, numpy and Pillow only; ``export`` and
``from-keras`` import TensorFlow when they run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnnspec.cli.common import EXIT_INVALID, BackendOpt, console, fail, run_or_exit, use_backend, writable


def _note(message: str) -> None:
    console(stderr=True).print(f"[yellow]note:[/] {message}", markup=True, highlight=False)


def _quiet_tensorflow() -> None:
    from cnnspec.cli.quiet import quiet_tensorflow

    quiet_tensorflow()  # without its start-up lines


def _export_backend() -> None:
    """Export on TensorFlow when it is installed (tf2onnx converts there, and the ``.keras`` of a
    JAX or PyTorch run loads on it alike); else on the backend Keras is given, through Keras'
    own ONNX export."""
    import importlib.util
    import os
    import sys

    if "keras" not in sys.modules and importlib.util.find_spec("tensorflow") is not None:
        os.environ["KERAS_BACKEND"] = "tensorflow"


def export(
    model: Annotated[str, typer.Argument(help="A run directory or a .keras model.", show_default=False)],
    output: Annotated[
        Optional[str],
        typer.Option(
            "--output",
            "-o",
            help="The .onnx file (default: model.onnx in the run directory, or the .keras file's name with .onnx).",
            show_default=False,
        ),
    ] = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset, 13 to 18.")] = 17,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0.0, help="Largest absolute difference allowed against Keras.")
    ] = 1e-5,
    allow_mismatch: Annotated[
        bool, typer.Option("--allow-mismatch", help="Write the file even when the parity check fails.")
    ] = False,
) -> None:
    """Export a trained model to ONNX, with its spec in the metadata, checked against Keras."""
    _export_backend()
    _quiet_tensorflow()
    from cnnspec.deploy.export import OPSETS
    from cnnspec.deploy.export import export as do_export

    if opset not in OPSETS:
        fail(f"--opset {opset}: tf2onnx writes opsets {OPSETS[0]} to {OPSETS[-1]}")
    src = Path(model)
    if not src.exists():
        fail(f"no such model: {model}")
    target = Path(output) if output else (src / "model.onnx" if src.is_dir() else src.with_suffix(".onnx"))
    if target.suffix.lower() != ".onnx":
        fail(f"--output {target}: the file name must end in .onnx")
    writable(target)
    report = run_or_exit(lambda: do_export(src, target, opset=opset, tolerance=tolerance, strict=not allow_mismatch))
    out = console()
    for note in report.notes:
        _note(note)
    size = target.stat().st_size
    out.print(f"exported {target} (opset {report.opset}, {size / 1024:.1f} KiB) in {report.seconds:.1f} s")
    assert report.max_abs_diff is not None
    out.print(
        f"parity: max |keras - onnx| = {report.max_abs_diff:.3g} on {report.sample} "
        f"(tolerance {report.tolerance:g}); top class agrees on {report.classes_agree}/{report.sample_size}"
    )
    out.print(f"spec: {report.metadata['cnnspec.spec']}")


def predict(
    model: Annotated[
        str, typer.Argument(help="An .onnx file (no TensorFlow needed), a run directory or a .keras file.")
    ],
    images: Annotated[
        list[str],
        typer.Argument(
            help="Image files, or folders of them (their images and those one subfolder down).", show_default=False
        ),
    ],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many classes to show per image.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    output_format: Annotated[
        Optional[str],
        typer.Option("--format", help="table, json or csv (--json is --format json).", show_default=False),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Leave out files that are not decodable images (exit 0).")
    ] = False,
    backend: BackendOpt = None,
) -> None:
    """Top-k classes of each image, with probabilities."""
    # A file that cannot be decoded gets its own error and the other images their results;
    # exit 1 when any failed (0 with --skip-bad, which notes them instead): docs/export.md.
    from cnnspec.deploy.predict import image_files, open_model, predict_each

    chosen = output_format or ("json" if as_json else "table")
    if chosen not in ("table", "json", "csv"):
        fail(f"--format {output_format}: expected table, json or csv")
    if as_json and chosen != "json":
        fail("give either --json or --format, not both")
    if not Path(model).exists():
        fail(f"no such model: {model}")
    missing = [p for p in images if not Path(p).exists()]
    if missing:
        fail(f"no such image{'s' * (len(missing) > 1)}: {', '.join(missing)}")
    if not Path(model).suffix.lower() == ".onnx":
        use_backend(backend, model if Path(model).is_dir() else None)  # a run: its own backend by default
        _quiet_tensorflow()
    files, notes = run_or_exit(lambda: image_files(images))
    results, errors = run_or_exit(lambda: predict_each(open_model(model), files, top_k))  # PredictError, ExportError
    for note in notes:
        _note(note)
    _show_predictions(results, chosen, summary=len(files) > 1)
    _show_bad(errors, skip_bad)
    if errors and not skip_bad:
        raise typer.Exit(EXIT_INVALID)


def _show_bad(errors: list, skip_bad: bool) -> None:
    """One line per file that could not be decoded: an error, or with --skip-bad a note."""
    from rich.markup import escape

    err = console(stderr=True)
    for exc in errors:
        label = "[yellow]skipped:[/]" if skip_bad else "[bold red]error:[/]"
        err.print(f"{label} {escape(exc.message)}", markup=True, highlight=False)
    if errors:
        shown = "left out (--skip-bad)" if skip_bad else "failed; the others were predicted"
        err.print(f"{len(errors)} file{'s' * (len(errors) > 1)} {shown}", markup=False, highlight=False)


def _show_predictions(results: list, chosen: str, summary: bool) -> None:
    if chosen == "json":
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        return
    if chosen == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["image", "rank", "class", "index", "probability"])
        for r in results:
            for rank, c in enumerate(r.top, 1):
                writer.writerow([r.image, rank, c.name, c.index, f"{c.probability:.6f}"])
        typer.echo(buf.getvalue(), nl=False)
        return
    from collections import Counter

    from rich.table import Table

    out = console()
    for r in results:
        for note in r.notes:
            _note(f"{r.image}: {note}")
        table = Table(title=r.image, title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("class")
        table.add_column(r.kind, justify="right")
        for rank, c in enumerate(r.top, 1):
            table.add_row(str(rank), c.name, f"{c.probability:.4f}")
        out.print(table)
    if summary and results:
        counts = Counter(r.top[0].name for r in results)
        table = Table(title=f"summary: {len(results)} images by predicted class", title_justify="left", show_edge=False)
        table.add_column("class")
        table.add_column("images", justify="right")
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(name, str(n))
        out.print(table)


def from_keras_command(
    model: Annotated[str, typer.Argument(help="A .keras model (or a run directory).")],
) -> None:
    """Print the spec of a Keras model, or name the first layer the notation cannot express."""
    _quiet_tensorflow()
    from cnnspec.deploy.loading import load_keras
    from cnnspec.model.from_keras import NotExpressible, convert

    p = Path(model)
    if not p.exists():
        fail(f"no such model: {p}")
    if p.is_dir():
        if not (p / "model.keras").is_file():
            fail(f"{p} has no model.keras: give a .keras file or a run directory", EXIT_INVALID)
        p = p / "model.keras"
    elif p.suffix.lower() not in (".keras", ".h5"):
        hint = f"cnnspec check {p} shows the spec of an exported model" if p.suffix.lower() == ".onnx" else None
        fail(f"{p} is not a .keras file: from-keras reads .keras files or run directories", EXIT_INVALID, hint)
    keras_model = run_or_exit(lambda: load_keras(p))
    try:
        conv = convert(keras_model)
    except NotExpressible as exc:
        fail(f"{p} cannot be written in the notation: {exc}", EXIT_INVALID, exc.hint)
    for note in conv.notes:
        _note(note)
    typer.echo(conv.spec)
