"""What a training run takes (:class:`TrainOptions`) and gives back (:class:`RunResult`).

A module of its own because every part of a run reads them: the run directory stores the
options in ``run.json`` (:mod:`cnnspec.run.rundir`), the fit builds the optimizer from them
(:mod:`cnnspec.run.fit`), and :mod:`cnnspec.run.train` takes and returns them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from cnnspec.errors import UserError

#: Keras' default learning rate of each optimizer.
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3}
SGD_MOMENTUM = 0.9

#: ``stopped``: ended early by a sweep's successive halving (a losing variant), not by a signal.
Status = Literal["running", "completed", "interrupted", "failed", "stopped"]


class TrainError(UserError):
    """A run that cannot start (an occupied ``--out``, a device setting that came too late):
    a message and a hint, shown without a traceback.  A damaged run directory is a
    :class:`cnnspec.run.rundir.RunDirError`."""

    code = "train"


class TrainOptions(BaseModel):
    """Every setting of a training run; stored in ``run.json`` as ``settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=32, ge=1)
    #: None: the optimizer's Keras default (Adam and RMSprop 0.001, SGD 0.01).
    lr: Optional[float] = Field(default=None, gt=0)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    #: Fixes the validation split, the weights' initialization and the shuffles.
    seed: int = Field(default=42, ge=0)
    val_split: float = Field(default=0.2, gt=0, lt=1)
    #: A separate validation folder (``--val DIR``); ``val_split`` is then unused.
    val_dir: Optional[str] = None
    #: Stop when validation accuracy has not improved for this many epochs.
    patience: Optional[int] = Field(default=None, ge=1)
    mixed_precision: bool = False
    #: XLA: None leaves Keras' choice (on for GPUs, off on CPU).
    jit: Optional[bool] = None
    #: ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local device.
    distribute: Optional[Literal["mirrored"]] = None
    skip_bad: bool = False
    #: The run directory; default ``runs/<spec name or "run">-<timestamp>``.
    out: Optional[str] = None

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


class RunResult(BaseModel):
    """What :func:`train` and :func:`resume` return."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_dir: Path
    status: Status
    epochs_completed: int
    history: list[dict[str, float]]
    metrics: dict[str, Any]
    class_names: list[str]
    #: The signal that stopped an interrupted run (2 SIGINT, 15 SIGTERM).
    signal: Optional[int] = None
    #: The in-memory Keras model after the last epoch (not serialized).
    model: Any = Field(default=None, exclude=True, repr=False)


__all__ = ["DEFAULT_LR", "SGD_MOMENTUM", "RunResult", "Status", "TrainError", "TrainOptions"]
