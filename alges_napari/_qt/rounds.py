"""Rounds (train, score, select) run one at a time in a thread worker, shown in the learn panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from napari.utils.notifications import show_error, show_info

from alges_napari._qt.jobs import BackgroundJob, JobStarter
from alges_napari._qt.learn_panel import LearnPanel
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress
from alges_napari.core.session import ActiveLearningSession, RoundConfig, RoundResult
from alges_napari.core.validate import check_engine, check_round_config


class RoundRunner:
    """Starts, cancels and reports the rounds of one dock widget.

    Parameters
    ----------
    panel : LearnPanel
        Shows the running round's progress and its outcome.
    start_job : callable
        Runs a core generator in a thread worker (:func:`~alges_napari._qt.jobs.start_job`).
    on_change : callable
        Called without arguments when the running state changes (to update buttons).
    log : callable, optional
        Called with one line per finished, stopped or failed round (the Status panel's log,
        :meth:`~._qt.status_view.StatusPanel.add_log`); the toast only points there.

    Notes
    -----
    What a finished round changed (queue, round record, predictions) reaches the dock as the
    project's change events, not through the runner.
    """

    def __init__(
        self,
        panel: LearnPanel,
        start_job: JobStarter,
        on_change: Callable[[], Any],
        log: Callable[[str], Any] | None = None,
    ):
        self._panel = panel
        self._start_job = start_job
        self._on_change = on_change
        self._log = log or (lambda _text: None)
        self._session: ActiveLearningSession | None = None
        self.job: BackgroundJob | None = None

    @property
    def running(self) -> bool:
        """True while a round runs."""
        return self.job is not None

    @property
    def stopping(self) -> bool:
        """True when the running round was asked to stop."""
        return self.job is not None and self.job.stop.is_set()

    def start(self, session: ActiveLearningSession, config: RoundConfig) -> BackgroundJob | None:
        """Start a round of ``session``; None while another one runs or ``config`` is refused.

        The settings are checked first (:func:`~alges_napari.core.validate.check_round_config`,
        and the panel's engine), so a bad value is refused before the job starts, not after
        training. The engine reaches the round as the session's argument
        (:attr:`ActiveLearningSession.engine`), like its device.
        """
        if self.running:
            return None
        try:
            check_round_config(config)
            engine = check_engine(self._panel.engine_choice())
        except AlgesError as exc:
            self._panel.show_idle(f"Not started: {exc}")
            show_error(f"ALGES: {exc}")
            return None
        panel = self._panel
        self._session = session
        session.engine = engine
        panel.show_progress(Progress("train", epoch=0, epochs=config.epochs))
        self.job = self._start_job(
            lambda stop: session.run_round(config, stop),
            self._done,
            name="round",
            on_progress=panel.show_progress,
            on_error=self._failed,
        )
        self._on_change()
        return self.job

    def cancel(self) -> None:
        """Stop the running round within one batch."""
        if self.job is not None:
            self.job.cancel()
            self._panel.progress_text.setText("Stopping after this batch...")
            self._on_change()

    def forget(self) -> None:
        """Drop the round after its job was stopped with the project (no callback comes)."""
        self.job = None
        self._panel.show_idle()

    def _done(self, result: RoundResult) -> None:
        self.job = None
        if result.stopped:
            text = f"Round {result.round} stopped: {result.message}"
            self._panel.show_idle(text)
            self._log(text)
        else:
            dice = "n/a" if np.isnan(result.mean_dice) else f"{result.mean_dice:.3f}"
            self._panel.show_idle(
                f"Round {result.round} done: {len(result.queue)} frames queued, "
                f"validation Dice {dice}"
            )
            self._log(round_line(result, self._session))
            show_info(f"ALGES: round {result.round} done (see Status)")
        self._on_change()

    def _failed(self, exc: BaseException) -> None:
        # BackgroundJob has already shown the error as a napari notification.
        self.job = None
        self._panel.show_idle(f"Round failed: {exc}")
        self._log(f"Round failed: {exc}")
        self._on_change()


def round_line(result: RoundResult, session: ActiveLearningSession | None = None) -> str:
    """The Status log's line for a finished round: labels, time, Dice, the new queue's top.

    Frame keys are written in full (``video01_00080/frame_87_endo``): the line is for reading
    and copying, not a toast.
    """
    record = None
    if session is not None:
        rounds = [r for r in session.project.rounds if r.round == result.round]
        record = rounds[-1] if rounds else None
    dice = "n/a" if np.isnan(result.mean_dice) else f"{result.mean_dice:.3f}"
    parts = [f"Round {result.round}"]
    if record is not None:
        parts.append(f"{record.n_labelled} training labels, {record.strategy or '?'}")
    seconds = sum(result.timings.values())
    if seconds:
        parts.append(f"{seconds:.0f} s")
    parts.append(f"validation Dice {dice}")
    text = ": ".join(parts[:1]) + ": " + ", ".join(parts[1:])
    if result.queue:
        text += f"; {len(result.queue)} frames queued, #1 {result.queue[0].key}"
    return text
