"""Training options that ``cnnspec train`` and ``cnnspec sweep`` share.

One definition each, so the two commands cannot drift apart.  This module
imports typer alone (not :mod:`cnnspec.cli`), so both command modules can
import it whatever order they load in.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

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
