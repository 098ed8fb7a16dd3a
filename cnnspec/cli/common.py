"""What every command shares: the console, errors and exit codes, reading a source, and the
options that more than one command takes (each defined once, so commands cannot drift apart).

Exit codes: 0 success (warnings allowed), 1 an invalid spec or a failed job, 2 a usage error
(a bad option, a missing input file, an output path that cannot be written).  No command
prints a traceback for bad input.  Nothing heavy is imported here: ``cnnspec check`` loads it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional, TypeVar

import typer
from rich.console import Console

from cnnspec.network.shapes import Shape, parse_shape
from cnnspec.network.sources import read_text

if TYPE_CHECKING:
    from cnnspec.errors import UserError
    from cnnspec.notation.ir import SpecFile

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def console(stderr: bool = False) -> Console:
    # Wide enough for a table when piped (CI logs, golden files).
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE, hint: str | None = None) -> NoReturn:
    """Print a one-line error (and hint) to stderr and exit with ``code``."""
    err = console(stderr=True)
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        err.print(f"  [cyan]hint:[/] {hint}", markup=True, highlight=False)
    raise typer.Exit(code)


def show_error(err: UserError) -> None:
    """Print a :class:`~cnnspec.errors.UserError` (message and hint) to stderr."""
    from cnnspec.display.terminal import user_error

    console(stderr=True).print(user_error(err), highlight=False)


def run_or_exit(job: Callable[[], T]) -> T:
    """Run ``job``; the one place where the errors of the library become exit codes.

    A :class:`~cnnspec.errors.UserError` (a bad folder, a damaged run, a model that cannot
    be used) prints its message and hint and exits with its ``exit_code`` (1); a
    :class:`~cnnspec.errors.SpecError` prints every diagnostic and exits 1; an output that
    cannot be written (:class:`~cnnspec.atomic.WriteError`) exits 2.  Never a traceback.
    """
    from cnnspec.atomic import WriteError
    from cnnspec.errors import SpecError, UserError, render_all

    try:
        return job()
    except UserError as exc:
        show_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except SpecError as exc:
        typer.echo(render_all(exc.diagnostics, exc.source), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except WriteError as exc:  # an output that became unwritable after the check before the work
        from rich.markup import escape

        fail(escape(str(exc)))


def parse_or_exit(text: str, origin: str, expand: bool) -> SpecFile:
    """Every spec of ``text`` (variants in braces expanded when ``expand``), or every
    parse error printed and exit 1."""
    from cnnspec.notation.parser import parse_file
    from cnnspec.notation.variants import expand_file

    return run_or_exit(lambda: expand_file(text, origin) if expand else parse_file(text, origin))


def writable(path: str | Path) -> Path:
    """``path``, or a usage error (exit 2) when it cannot be written; checked
    before the work, so a bad ``-o`` costs nothing and creates nothing."""
    from rich.markup import escape

    from cnnspec.atomic import WriteError, check_writable

    try:
        check_writable(path)
    except WriteError as exc:
        fail(escape(str(exc)))
    return Path(path)


def shape_option(value: Optional[str]) -> Optional[Shape]:
    if value is None:
        return None
    try:
        return parse_shape(value)
    except ValueError as exc:
        fail(f"--input: {exc}")


def read_source(path: Optional[str], spec: Optional[str]) -> tuple[str, str]:
    """The text to work on: ``--spec TEXT``, a file, or ``-`` for stdin."""
    if spec is not None and path is not None:
        fail("give either a PATH or --spec, not both")
    if spec is not None:
        return spec, "<string>"
    if path is None:
        fail("give a PATH (a .cnn file, or - for standard input) or --spec TEXT")
    if path != "-" and Path(path).is_dir():
        fail(f"{path} is a directory: give a .cnn file")
    if path != "-" and not Path(path).is_file():
        fail(f"no such file: {path}")
    try:
        return read_text(path)
    except UnicodeDecodeError:
        name = "standard input" if path == "-" else path
        if Path(path).suffix in (".keras", ".h5"):
            fail(f"{path} is a Keras model, not a spec", hint=f"print its spec with: cnnspec from-keras {path}")
        fail(f"{name} is not UTF-8 text")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


PathArg = Annotated[Optional[str], typer.Argument(help="A .cnn file, or - for standard input.", show_default=False)]
SpecOpt = Annotated[Optional[str], typer.Option("--spec", "-s", help="The spec text itself.", show_default=False)]
InputOpt = Annotated[
    Optional[str], typer.Option("--input", "-i", help="Input shape HxWxC when the spec has no I:.", show_default=False)
]
ClassesOpt = Annotated[
    Optional[int],
    typer.Option("--classes", "-c", min=1, help="Class count when the spec has no O:.", show_default=False),
]


# --- training options (train and sweep)

DataOpt = Annotated[
    Optional[str], typer.Option("--data", "-d", help="Image folder: one subfolder of images per class.")
]
ValOpt = Annotated[Optional[str], typer.Option("--val", help="A separate validation folder (else --val-split).")]
BatchSizeOpt = Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Batch size (default: 32).")]
LrOpt = Annotated[Optional[float], typer.Option(help="Learning rate (default: the optimizer's).")]
OptimizerOpt = Annotated[Optional[str], typer.Option(help="adam, sgd (momentum 0.9) or rmsprop (default: adam).")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Seed of the split, weights and shuffles (default: 42).")]
ValSplitOpt = Annotated[Optional[float], typer.Option(help="Validation share without --val (default: 0.2).")]
PatienceOpt = Annotated[Optional[int], typer.Option(help="Stop after this many epochs without better val accuracy.")]
MixedPrecisionOpt = Annotated[bool, typer.Option("--mixed-precision", help="mixed_float16 (for GPUs).")]
JitOpt = Annotated[Optional[bool], typer.Option("--jit/--no-jit", help="XLA (default: Keras' choice).")]
DistributeOpt = Annotated[
    Optional[str], typer.Option(help="mirrored: tf.distribute.MirroredStrategy over every local device.")
]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", help="Train without the files that are not images.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
BackendOpt = Annotated[
    Optional[str],
    typer.Option(
        "--backend", help="Keras backend: tensorflow, jax or torch (default: KERAS_BACKEND, else tensorflow).",
        show_default=False,
    ),
]  # fmt: skip

#: The Keras backends cnnspec trains on.
BACKENDS = ("tensorflow", "jax", "torch")


def use_backend(name: Optional[str], run_dir: Optional[str] = None, resuming: bool = False) -> None:
    """Make Keras run on ``name`` (``--backend``): set ``KERAS_BACKEND`` before Keras is imported.

    Without ``name``, a run directory's own backend (``run.json``) is used when
    ``KERAS_BACKEND`` does not say one, so that ``--resume`` and ``predict RUN`` take the
    backend a run trained on; ``resuming`` refuses another one (exit 1).  A usage error when
    the name is unknown or Keras already runs on another backend in this process.
    """
    own = _run_backend(run_dir) if run_dir is not None else None
    if name is None and not os.environ.get("KERAS_BACKEND"):
        name = own
    wanted = name or os.environ.get("KERAS_BACKEND")
    if resuming and own is not None and wanted is not None and wanted != own:
        # Said before Keras is imported: the other backend may not even be installed.
        fail(
            f"{run_dir} was trained on the {own} backend, not {wanted}: a run resumes on the backend "
            "that started it (its optimizer state and random draws are that backend's)",
            EXIT_INVALID,
            hint=f"resume with --backend {own} (or KERAS_BACKEND={own})",
        )
    if name is None:
        return
    if name not in BACKENDS:
        fail(f"--backend {name}: expected one of {', '.join(BACKENDS)}")
    keras = sys.modules.get("keras")
    if keras is not None:
        running = keras.backend.backend()
        if running != name:
            fail(f"--backend {name}: Keras already runs on {running} in this process")
        return
    os.environ["KERAS_BACKEND"] = name


def _run_backend(run_dir: str) -> Optional[str]:
    """The backend a run directory's ``run.json`` names (``tensorflow`` for one that names none),
    or None when there is no readable run there (the command itself then says what is wrong)."""
    import json

    try:
        doc = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    backend = doc.get("backend", "tensorflow") if isinstance(doc, dict) else None
    return backend if backend in BACKENDS else None


def train_options(**given: object) -> object:
    """The validated :class:`~cnnspec.run.train.TrainOptions` of the options given, or a usage error."""
    from pydantic import ValidationError

    from cnnspec.run.train import TrainOptions

    try:
        return TrainOptions.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        fail(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}")


def onnx_spec(path: str) -> str:
    """The spec text stored in an exported ``.onnx`` file (for ``cnnspec check model.onnx``)."""
    from cnnspec.deploy.loading import ExportError
    from cnnspec.deploy.metadata import read_spec

    try:
        return read_spec(path)
    except ExportError as exc:
        fail(str(exc), EXIT_INVALID)
