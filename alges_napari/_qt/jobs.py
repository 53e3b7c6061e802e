"""Core generators in napari thread workers: progress to the GUI thread, graceful cancel.

Every long piece of core work is a generator that yields :class:`~alges_napari.core.progress.Progress`
records, honours a stop flag and returns its result (see ``core/progress.py``).
:class:`BackgroundJob` runs one in a napari ``GeneratorWorker``: each yielded record reaches
``on_progress`` in the GUI thread (a queued Qt
signal), the return value reaches ``on_done``, an exception reaches ``on_error`` and is shown
as a napari notification (napari's notification manager; never re-raised into the event loop).

Cancelling never aborts the generator at an arbitrary ``yield`` (which would leave a round
half-done): it sets the stop flag, and the core finishes the batch it is on and returns cleanly.
napari's own "cancel all tasks" (used when a viewer window closes) goes the same way, because
the worker's ``quit`` is redirected to the stop flag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import Qt

from alges_napari.core.progress import Progress, StopFlag

WorkFactory = Callable[[StopFlag], Generator[Progress, None, Any]]


class _StoppableWorker(GeneratorWorker):
    """A GeneratorWorker whose ``quit`` asks the generator to stop instead of dropping it."""

    stop_flag: StopFlag | None = None

    def quit(self) -> None:  # noqa: D401 - Qt-style override
        """Request a graceful stop (the generator returns within one batch)."""
        if self.stop_flag is not None:
            self.stop_flag.request()


class BackgroundJob:
    """One core generator running in a napari thread worker.

    Parameters
    ----------
    work : callable
        ``work(stop)`` returns the generator to run; ``stop`` is the job's :class:`StopFlag`.
    on_progress, on_done, on_error : callable, optional
        Called in the GUI thread with each progress record, the generator's return value, and an
        exception raised by the generator.
    on_finished : callable, optional
        Called in the GUI thread, without arguments, when the worker has finished either way.
    name : str
        What the job does, for messages.

    Notes
    -----
    The callbacks are dropped by :meth:`shutdown`, so a job may outlive the widget that
    started it without calling into deleted Qt objects.
    """

    def __init__(
        self,
        work: WorkFactory,
        on_progress: Callable[[Progress], Any] | None = None,
        on_done: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_finished: Callable[[], Any] | None = None,
        name: str = "job",
    ):
        self.name = name
        self._started = False
        self.stop = StopFlag()
        self.done = threading.Event()  # the generator has returned or raised
        self.finished = threading.Event()  # ... and the worker thread has let go of it
        self._callbacks: dict[str, Callable[..., Any] | None] = {
            "progress": on_progress,
            "done": on_done,
            "error": on_error,
            "finished": on_finished,
        }

        def run() -> Generator[Progress, None, Any]:
            try:
                return (yield from work(self.stop))
            finally:
                self.done.set()

        # _ignore_errors: an exception must not be re-raised in the GUI thread (a crash outside
        # napari's own loop); it is shown as a notification instead, by _notify.
        self.worker = create_worker(
            run, _start_thread=False, _worker_class=_StoppableWorker, _ignore_errors=True
        )
        self.worker.stop_flag = self.stop
        self.worker.yielded.connect(lambda p: self._call("progress", p))
        self.worker.returned.connect(lambda r: self._call("done", r))
        self.worker.errored.connect(self._notify)
        self.worker.errored.connect(lambda e: self._call("error", e))
        # Direct: set from the worker thread itself, so shutdown() can wait for it without
        # spinning the GUI event loop.
        self.worker.finished.connect(self.finished.set, Qt.ConnectionType.DirectConnection)
        self.worker.finished.connect(lambda: self._call("finished"))

    def _call(self, which: str, *args: Any) -> None:
        callback = self._callbacks.get(which)
        if callback is not None:
            callback(*args)

    @staticmethod
    def _notify(exc: BaseException) -> None:
        from napari.utils.notifications import notification_manager

        notification_manager.receive_error(type(exc), exc, exc.__traceback__)

    def start(self) -> BackgroundJob:
        """Start the worker thread; returns ``self``."""
        self._started = True
        self.worker.start()
        return self

    @property
    def running(self) -> bool:
        """True until the worker thread has finished (the generator returned or raised)."""
        return self._started and not self.finished.is_set()

    def cancel(self) -> None:
        """Ask the generator to stop at its next check (within one batch)."""
        self.stop.request()

    def shutdown(self, timeout: float = 120.0) -> bool:
        """Drop the callbacks, request a stop and wait for the generator to finish.

        Returns
        -------
        bool
            True when the worker thread finished within ``timeout`` seconds.
        """
        self._callbacks = {}
        self.stop.request()
        return not self._started or self.finished.wait(timeout)


class Resources:
    """What a dock widget must release when it goes away, kept apart from any Qt object.

    A widget's ``destroyed`` signal fires after its C++ side is gone, so the clean-up there
    (:func:`release`) may only touch this plain object: the open project, the running jobs,
    the viewer's key bindings and event callbacks, the subscription to the project's events.
    """

    def __init__(self, viewer: Any):
        self.viewer = viewer
        self.project: Any = None
        self.unsubscribe: Callable[[], Any] | None = None  # from the project's events
        self.jobs: list[BackgroundJob] = []
        self.bound_keys: list[str] = []
        self.callbacks: list[tuple[Any, Any]] = []  # (napari event emitter, callback)


#: ``start(work, on_done, name=..., on_progress=..., on_error=...)`` -> a started job.
JobStarter = Callable[..., BackgroundJob]


def start_job(
    res: Resources,
    work: WorkFactory,
    on_done: Callable[[Any], Any] | None = None,
    name: str = "job",
    on_finished: Callable[[], Any] | None = None,
    **callbacks: Any,
) -> BackgroundJob:
    """Start ``work`` in a :class:`BackgroundJob` that :func:`stop_jobs` will stop.

    The job leaves ``res.jobs`` when its worker finishes, before ``on_finished`` is called.
    """

    def forget() -> None:
        if job in res.jobs:
            res.jobs.remove(job)
        if on_finished is not None:
            on_finished()

    job = BackgroundJob(work, on_done=on_done, on_finished=forget, name=name, **callbacks)
    res.jobs.append(job)
    return job.start()


def stop_jobs(res: Resources, timeout: float = 120.0) -> bool:
    """Stop every job (a round within one batch); True when all threads ended in time."""
    ended = all([job.shutdown(timeout) for job in list(res.jobs)])
    res.jobs[:] = []
    return ended


def release_project(res: Resources) -> None:
    """Stop every job, stop listening to the project's events and release its lock."""
    stop_jobs(res)
    if res.unsubscribe is not None:
        res.unsubscribe()
        res.unsubscribe = None
    if res.project is not None:
        res.project.close()
        res.project = None


def release(res: Resources) -> None:
    """Release the project (:func:`release_project`), then the key bindings and callbacks."""
    release_project(res)
    for key in res.bound_keys:
        res.viewer.bind_key(key, None)
    res.bound_keys = []
    for emitter, callback in res.callbacks:
        emitter.disconnect(callback)
    res.callbacks = []
