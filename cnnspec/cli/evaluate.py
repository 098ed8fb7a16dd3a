"""``cnnspec evaluate``: a thin wrapper over :func:`cnnspec.run.evaluate.evaluate`.

Nothing heavy is imported here at module level: ``cnnspec check`` imports
this module too and must stay instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cnnspec.cli.common import BackendOpt, console, fail, run_or_exit, use_backend, writable

if TYPE_CHECKING:
    from cnnspec.run.evaluate import Evaluation


def evaluate(
    run_dir: Annotated[str, typer.Argument(help="A run directory that cnnspec train wrote.", show_default=False)],
    data: Annotated[
        Optional[str], typer.Option("--data", "-d", help="Test folder: one subfolder per class of the run.")
    ] = None,
    out: Annotated[
        Optional[str],
        typer.Option(
            "--out",
            "-o",
            help="Confusion matrix PNG, its JSON beside it (default: RUN_DIR/confusion.png).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", "-b", min=1, help="Batch size (default: the run's).")
    ] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Leave out files that are not images.")] = False,
    no_save: Annotated[bool, typer.Option("--no-save", help="Write no files; only print.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON instead of tables.")] = False,
    backend: BackendOpt = None,
) -> None:
    """Score a trained run on a test folder: accuracy, per-class precision/recall/F1, confusion matrix."""
    from cnnspec.cli.quiet import quiet_tensorflow

    use_backend(backend, run_dir)  # before Keras is imported; default: the run's own
    quiet_tensorflow()  # TensorFlow, once imported, without its start-up lines
    from rich.markup import escape

    from cnnspec.run.evaluate import evaluate as evaluate_run
    from cnnspec.run.rundir import CONFUSION_PNG, EVALUATION_JSON

    if data is None:
        fail("give the test folder with --data DIR")
    if out is not None and not out.lower().endswith(".png"):
        fail(f"--out {out}: expected a .png file")
    if out is not None and no_save:
        fail("give either --out or --no-save, not both")
    for given, what in ((run_dir, "run directory"), (data, "test folder")):
        if not Path(given).exists():
            fail(f"no such {what}: {escape(given)}")
    if not no_save and (out is not None or Path(run_dir).is_dir()):  # before the evaluation, not after it
        png = Path(out) if out is not None else Path(run_dir) / CONFUSION_PNG
        writable(png)
        writable(png.with_suffix(".json") if out is not None else Path(run_dir) / EVALUATION_JSON)
    ev = run_or_exit(
        _as_evaluation_error(
            lambda: evaluate_run(run_dir, data, batch_size=batch_size, skip_bad=skip_bad, save=not no_save, out_png=out)
        )
    )
    if as_json:
        typer.echo(json.dumps(ev.to_dict(), indent=2, ensure_ascii=False))
    else:
        show(ev)


def _as_evaluation_error(job: Callable[[], Evaluation]) -> Callable[[], Evaluation]:
    """A model that will not load or run, as one line (no traceback for the user)."""
    from cnnspec.atomic import WriteError
    from cnnspec.errors import UserError

    def run() -> Evaluation:
        try:
            return job()
        except (UserError, WriteError):  # refusals, and an output that became unwritable
            raise
        except Exception as exc:
            raise UserError(f"evaluation failed: {type(exc).__name__}: {exc}", code="evaluate") from exc

    return run


def show(ev: Evaluation) -> None:
    """Print an evaluation as rich tables: scores per class, then the confusion matrix."""
    from rich.table import Table

    out = console()
    out.print(f"[bold]evaluate[/] {ev.model}")
    out.print(f"  data    {ev.data['path']}: {ev.images} images, {len(ev.class_names)} classes")
    for note in ev.notes:
        out.print(f"  [yellow]note:[/] {note}")
    out.print(f"  [bold]accuracy {ev.accuracy:.4f}[/] ({sum(r[i] for i, r in enumerate(ev.confusion))}/{ev.images})")

    table = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for c in ev.per_class:
        table.add_row(c.name, f"{c.precision:.4f}", f"{c.recall:.4f}", f"{c.f1:.4f}", str(c.support))
    table.add_section()
    for label, avg in (("macro avg", ev.macro_avg), ("weighted avg", ev.weighted_avg)):
        table.add_row(label, f"{avg['precision']:.4f}", f"{avg['recall']:.4f}", f"{avg['f1']:.4f}", str(ev.images))
    out.print(table)

    matrix = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    matrix.add_column("true \\ predicted")
    for name in ev.class_names:
        matrix.add_column(name, justify="right")
    for t, (name, row) in enumerate(zip(ev.class_names, ev.confusion, strict=True)):
        cells = [f"[green]{v}[/]" if p == t else (f"[red]{v}[/]" if v else "[dim]0[/]") for p, v in enumerate(row)]
        matrix.add_row(name, *cells)
    out.print(matrix)
    if ev.files:
        out.print(f"wrote {ev.files['json']} and {ev.files['png']}")


__all__ = ["evaluate", "show"]
