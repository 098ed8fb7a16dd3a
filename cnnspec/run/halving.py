"""Successive halving (asynchronous, ASHA) of a sweep's runs: Optuna's pruner, not ours.

A sweep with ``--halving`` is one Optuna study whose storage is a journal file in the
sweep folder, ``OUT/halving.journal`` (:class:`optuna.storages.JournalStorage` over a
:class:`~optuna.storages.journal.JournalFileBackend`): one trial per run.  After every
epoch a run reports its validation accuracy to its trial and asks
:class:`optuna.pruners.SuccessiveHalvingPruner` whether to go on; the pruner compares it
with the other runs that reached the same rung (``min_epochs``, ``min_epochs × factor``,
...), keeps the top ``1/factor`` and stops the rest, which end as ``stopped``.

The journal is a file, so the same code works in the sweep's own process (``--engine
local``) and in Ray workers on other hosts (the sweep folder is on shared storage there):
a worker opens the study from a :class:`Ticket`, which pickles as three strings and two
numbers.  The sweep (the driver) alone creates trials and ends them
(:meth:`Halving.tell`); workers only report and ask.  A run interrupted and resumed by a
later start of the sweep keeps its trial (found by the run's name), so its earlier
epochs still count.

Optuna is imported here only, inside the functions (a heavy import).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnspec.errors import UserError

JOURNAL = "halving.journal"
STUDY = "sweep"
#: The trial's user attribute that names its run.
RUN_ATTR = "run"


class HalvingError(UserError):
    """``--halving`` without Optuna installed."""

    code = "halving"


def require_optuna() -> None:
    """Raise :class:`HalvingError` when Optuna is not installed (before a sweep writes anything)."""
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise HalvingError("--halving needs Optuna", "pip install 'cnnspec[halving]'") from None


def _storage(path: str) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial on the sweep's display
    return optuna.storages.JournalStorage(JournalFileBackend(path))


@dataclass(frozen=True)
class Ticket:
    """What a run needs to report to its trial, from any process: picklable."""

    journal: str
    trial_id: int
    min_epochs: int
    factor: int

    def pruner(self) -> Any:
        import optuna

        return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.min_epochs, reduction_factor=self.factor)

    def on_epoch(self) -> Any:
        """The run's ``on_epoch(epoch, row) -> stop?``: report the epoch's validation accuracy,
        ask the pruner (never before ``min_epochs``: its first rung is there)."""
        import optuna

        study = optuna.load_study(study_name=STUDY, storage=_storage(self.journal), pruner=self.pruner())
        trial = optuna.trial.Trial(study, self.trial_id)

        def on_epoch(epoch: int, row: dict[str, Any]) -> bool:
            value = row.get("val_accuracy")
            if value is None:
                return False
            trial.report(float(value), epoch)
            return epoch >= self.min_epochs and trial.should_prune()

        return on_epoch


class Halving:
    """The driver's side: the study, one trial per run, and each trial's end."""

    def __init__(self, out_dir: Path, min_epochs: int = 2, factor: int = 3) -> None:
        require_optuna()
        import optuna

        if min_epochs < 1 or factor < 2:
            raise ValueError("halving needs min_epochs >= 1 and factor >= 2")
        self.journal = str(Path(out_dir).resolve() / JOURNAL)
        self.min_epochs, self.factor = min_epochs, factor
        self.study = optuna.create_study(
            study_name=STUDY, storage=_storage(self.journal), direction="maximize", load_if_exists=True
        )

    def _running(self) -> dict[str, int]:
        import optuna

        return {
            str(t.user_attrs[RUN_ATTR]): t._trial_id
            for t in self.study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING])
            if RUN_ATTR in t.user_attrs
        }

    def ticket(self, name: str) -> Ticket:
        """The trial of run ``name``: the one left running by an earlier start, else a new one."""
        trial_id = self._running().get(name)
        if trial_id is None:
            trial = self.study.ask()
            trial.set_user_attr(RUN_ATTR, name)
            trial_id = trial._trial_id
        return Ticket(self.journal, trial_id, self.min_epochs, self.factor)

    def tell(self, name: str, status: str, best_val_accuracy: float | None) -> None:
        """End run ``name``'s trial: completed (with its best validation accuracy), stopped
        (pruned) or failed; an interrupted run keeps its trial running for the next start."""
        import optuna

        trial_id = self._running().get(name)
        if trial_id is None or status in ("interrupted", "pending", "resume"):
            return
        number = self.study._storage.get_trial_number_from_id(trial_id)
        state = optuna.trial.TrialState
        if status == "stopped":
            self.study.tell(number, state=state.PRUNED)
        elif status in ("completed", "finished") and best_val_accuracy is not None:
            self.study.tell(number, best_val_accuracy)
        else:
            self.study.tell(number, state=state.FAIL)


__all__ = ["JOURNAL", "Halving", "HalvingError", "Ticket", "require_optuna"]
