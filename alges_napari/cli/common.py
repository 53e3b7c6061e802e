"""What every ``alges`` subcommand shares: progress bars, clean Ctrl-C, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
import warnings
from collections.abc import Collection, Iterator
from typing import Any

from alges_napari.core.progress import Progress, StopFlag

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: ``--engine`` choices: core.learn.engine.ENGINES, written out so that ``alges --help`` needs no
#: torch (a test checks that they are the same).
ENGINE_CHOICES = ("auto", "torch", "onnx")


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options every subcommand takes."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("common options")
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or status messages"
    )
    group.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads torch may use (default: torch's choice)",
    )
    group.add_argument(
        "--debug", action="store_true", help="show the full traceback of a runtime failure"
    )
    return parent


class OneStrategy(argparse.Action):
    """``--strategy NAME`` of a command that uses one strategy: given twice, or as a comma
    list, it is a usage error rather than a silent choice of the last one."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: Any = None
    ) -> None:
        given = f"_{self.dest}_given"
        previous = getattr(namespace, given, None)
        if previous is not None or "," in str(values):
            shown = f"{previous!r} and {values!r}" if previous is not None else repr(values)
            parser.error(
                f"argument {option}: one strategy per run, got {shown}; "
                "`alges simulate` compares several"
            )
        setattr(namespace, given, values)
        setattr(namespace, self.dest, values)


def add_query_size(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--query-size N`` (``--query``, its earlier spelling, still works) to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser; the value lands in ``args.query_size`` (the field name of
        ``RoundConfig`` and ``SimulationConfig``, so :func:`fields_from` finds it).
    help : str
        The option's help text, which says what the frames are for in this command.
    """
    parser.add_argument(
        "--query-size", "--query", dest="query_size", type=int, default=10, metavar="N",
        help=help,
    )  # fmt: skip


def add_device(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` and ``--engine``."""
    parser.add_argument(
        "--device",
        metavar="DEV",
        help="torch device: cpu, cuda, cuda:1, mps (default: CUDA > MPS > CPU)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        help="what runs the scoring pass's forward: auto (the fastest measured here), torch "
        "or onnx (ONNX Runtime, CPU) (default: $ALGES_ENGINE, else auto)",
    )


def fields_from(
    cls: type, args: argparse.Namespace, skip: Collection[str] = (), given: bool = False
) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that the parsed ``args`` hold, by name.

    A command builds its settings from its options by name (an option's ``dest`` is the
    setting's field name), so a new setting with a new option needs no copying line.

    Parameters
    ----------
    cls : type
        A dataclass (``SimulationConfig``, ``TrainConfig``, ``RoundConfig``...).
    args : argparse.Namespace
        The parsed arguments.
    skip : collection of str
        Fields not to take although ``args`` has them (an option of the same name that means
        something else, or one the command converts itself).
    given : bool
        Leave out options that were not given (value None), so that ``cls``'s own default, or
        a preset's, applies.

    Returns
    -------
    dict
        Field name -> the option's value, for every field of ``cls`` that ``args`` has.
    """
    out = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.name not in skip and hasattr(args, f.name)
    }
    return {k: v for k, v in out.items() if v is not None} if given else out


def say(args: argparse.Namespace, message: str) -> None:
    """Print a status message unless ``--quiet`` (through tqdm, so bars are not torn)."""
    if not getattr(args, "quiet", False):
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)


class Bars:
    """tqdm bars fed by the core's :class:`~alges_napari.core.progress.Progress` records.

    The ``outer`` stage (e.g. "step" for an experiment) gets a bar of its own that stays at the
    top; every other stage shares one bar below it, restarted when the stage changes.

    Parameters
    ----------
    quiet : bool
        Show nothing.
    outer : str or None
        Name of the stage that counts the whole job.
    """

    def __init__(self, quiet: bool = False, outer: str | None = None):
        self.quiet, self.outer = quiet, outer
        self._outer_bar: Any = None
        self._bar: Any = None
        self._stage: str | None = None

    def _new(self, desc: str, position: int) -> Any:
        from tqdm import tqdm

        return tqdm(desc=desc, position=position, leave=position == 0, dynamic_ncols=True)

    @staticmethod
    def _advance(bar: Any, p: Progress) -> None:
        if p.total and bar.total != p.total:
            bar.total = p.total
            bar.refresh()
        if p.done >= bar.n:
            bar.update(p.done - bar.n)

    def __call__(self, p: Progress) -> None:
        """Show one progress record."""
        if self.quiet:
            return
        if p.warning:
            from tqdm import tqdm

            tqdm.write(f"warning: {p.warning}", file=sys.stderr)
        stage = p.stage or "work"
        if stage == self.outer:
            if self._outer_bar is None:
                self._outer_bar = self._new(stage, 0)
            self._advance(self._outer_bar, p)
            return
        if stage != self._stage or self._bar is None:
            if self._bar is not None:
                self._bar.close()
            self._bar = self._new(stage, 1 if self.outer else 0)
            self._stage = stage
        self._advance(self._bar, p)
        if p.loss is not None:
            self._bar.set_postfix(epoch=f"{p.epoch}/{p.epochs}", loss=f"{p.loss:.3f}", refresh=False)

    def close(self) -> None:
        """Close the bars (idempotent)."""
        for bar in (self._bar, self._outer_bar):
            if bar is not None:
                bar.close()
        self._bar = self._outer_bar = None


@contextlib.contextmanager
def graceful_interrupt(stop: StopFlag, quiet: bool = False) -> Iterator[StopFlag]:
    """While inside, the first Ctrl-C asks the work to stop cleanly; a second one aborts.

    The work checks ``stop`` within every batch, so what it finished is saved and the command
    exits with :data:`EXIT_INTERRUPTED`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.request()
        print(
            "\nstopping cleanly after the current batch (Ctrl-C again to abort at once)",
            file=sys.stderr,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def readable_warnings() -> Iterator[None]:
    """While inside, each warning is one line on stderr, ``warning: <message>``, instead of
    Python's ``file:line: Category: message`` followed by the source line that raised it."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        from tqdm import tqdm  # through tqdm, so progress bars are not torn

        text = " ".join(str(message).split("\n")).strip()
        tqdm.write(f"warning: {text}", file=file if file is not None else sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
