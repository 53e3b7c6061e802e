"""The ``alges`` command: simulated experiments, headless project work, and the napari demo.

Every subcommand is a thin shell over :mod:`alges_napari.core` (no Qt is imported except by
``alges demo``): it parses arguments, shows the core's progress generators as tqdm bars, and
turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from alges_napari.cli import demo, experiment, project
from alges_napari.cli.checks import check_args
from alges_napari.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    common_options,
    readable_warnings,
)
from alges_napari.core.errors import AlgesError

EPILOG = f"""\
commands, in a typical order:
  alges simulate --data TREE --out DIR    active-learning experiment with a ground-truth oracle
  alges plot --results DIR                learning curves + summary table of an experiment
  alges init --project P --data FRAMES    create a project (as the widget does)
  alges train --project P                 one round: train, score the pool, queue the next batch
  alges rank --project P                  score + select with the latest model (GPU server)
  alges export labels|model --project P --out DIR
  alges import --project P --format F --from DIR   existing labels in (masks, coco, cvat-mask, nnunet)
  alges demo                              napari with the widget docked and sample data open
Run `alges COMMAND --help` for every option of a command.

exit codes:
  {EXIT_OK}    success
  {EXIT_FAILURE}    runtime failure (a bug, out of memory, a disk error...); --debug shows the traceback
  {EXIT_USAGE}    bad usage or bad input (missing file, invalid value); the reason is on stderr
  {EXIT_INTERRUPTED}  interrupted by Ctrl-C after a clean stop: finished work is saved (a second
       Ctrl-C aborts at once); `alges simulate` resumes when run again with the same --out
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``alges`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="alges",
        description="Active learning with gradient embeddings (ALGES) for segmenting "
        "laparoscopic video: headless tools of the alges-napari plugin.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("alges-napari")
    except PackageNotFoundError:  # running from a source tree that is not installed
        ver = "unknown"
    parser.add_argument("--version", action="version", version=f"alges-napari {ver}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = [common_options()]
    experiment.add_parsers(sub, parents)
    project.add_parsers(sub, parents)
    demo.add_parsers(sub, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``alges`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Returns
    -------
    int
        0 success, 1 runtime failure, 2 bad usage or input, 130 interrupted (see ``--help``).
    """
    with readable_warnings():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 after --help
        return int(exc.code or 0)
    if args.threads is not None:
        if args.threads < 1:
            print(f"alges: error: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return EXIT_USAGE
        import torch

        torch.set_num_threads(args.threads)
    try:
        check_args(args)  # every value refused here, before any work (nothing written)
        return args.func(args)
    except AlgesError as exc:
        print(f"alges {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"alges {args.command}: aborted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a runtime failure: report it briefly, fully with --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(f"alges {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
