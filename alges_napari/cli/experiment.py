"""``alges simulate`` and ``alges plot``: simulated active-learning experiments and their curves."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alges_napari.cli.cluster import add_dask_options, dask_client
from alges_napari.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    Bars,
    add_device,
    add_query_size,
    fields_from,
    graceful_interrupt,
    say,
)
from alges_napari.core.errors import AlgesError
from alges_napari.core.progress import Progress, StopFlag, run_to_end

SIMULATE_HELP = """\
Simulate active learning with an oracle made from ground-truth masks, and write one row per
strategy, repeat and round to OUT/results.csv. The defaults are the ALGES paper's protocol for a
CholecSeg8k tree: ResNet-18 U-Net from scratch, 224x224, Adam lr 5e-5, batch 32, 25 epochs per
round, 50 initial frames, +10 per round, 30 rounds, 3 repeats. The primary metric, mean_dice,
is the data-set Dice of each foreground class present in the test frames, averaged with equal
weight; every class's Dice is a column dice_<id>; mean_dice_scored and mean_dice_per_image are
the older figures over the schema's scored classes (CholecSeg8k: 0,1,2,3,4,5,9,10). Each repeat
holds out whole videos as test frames (or, with --test-data, tests on that fixed set) and draws
its initial labelled frames from its own seed; every strategy starts from them (and from the
same round-0 model). Started again with the same OUT and settings, a run resumes where it stopped;
--strategy, --rounds and --repeats may grow between runs.
"""


PLOT_HELP = """\
Summarise and plot DIR/results.csv (one line per strategy, mean and +-1 sd over repeats):

  learning_curves.png    Dice against labelled frames; a dashed line marks the Dice of a model
                         trained on the whole pool when the results have 'full-pool' rows
  correction_curves.png  Dice against the cumulative corrected pixels (when the results have
                         corrected_px_total)
  summary.csv, .md       per strategy: final Dice; normalised AUC over the label range every
                         strategy covers; the AUC minus random's, paired by repeat, with a
                         percentile-bootstrap 95% interval over repeats (none with one repeat)
                         and the repeats where it beats random; the labels its mean curve needs
                         to reach random's final mean Dice; its final Dice as a fraction of the
                         full-pool Dice; and the corrected pixels spent (when recorded);
                         beside the bootstrap interval, the paired t-interval and the smallest
                         difference the repeats could detect (80% power)
  per_class.csv, .md     per strategy and class (dice_<id> columns): final Dice, normalised
                         AUC, and the AUC minus random's, paired, with its t-interval

The Markdown table is also printed.
"""


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``simulate`` and ``plot``."""
    from alges_napari.core.experiment.config import DEFAULT_STRATEGIES

    p = sub.add_parser(
        "simulate",
        parents=parents,
        help="simulated active-learning experiment (oracle = ground truth)",
        description=SIMULATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="frames with ground truth (CholecSeg8k tree)")
    p.add_argument(
        "--strategy",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="strategies to compare: names, comma lists, or 'all'; repeats add up "
        f"(default: {' '.join(DEFAULT_STRATEGIES)})",
    )
    p.add_argument("--init", type=int, default=50, help="initial labelled frames (default 50)")
    add_query_size(p, "frames added per round (default 10)")
    p.add_argument("--rounds", type=int, default=30, help="acquisition rounds (default 30)")
    p.add_argument("--repeats", type=int, default=3, help="repeats, seeds SEED..SEED+n-1 (3)")
    p.add_argument("--epochs", type=int, default=25, help="training epochs per round (25)")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size (32)")
    p.add_argument("--lr", type=float, default=5e-5, help="Adam learning rate (5e-5)")
    p.add_argument(
        "--input-size",
        "--size",
        dest="input_size",
        type=int,
        nargs=2,
        default=[224, 224],
        metavar=("H", "W"),
        help="frames are resized to H x W, multiples of 32 (224 224)",
    )
    p.add_argument("--arch", default="Unet", help="segmentation-models-pytorch model (Unet)")
    p.add_argument("--encoder", default="resnet18", help="encoder, random init (resnet18)")
    p.add_argument(
        "--encoder-weights",
        metavar="PATH|imagenet",
        help="start every model from these encoder weights instead of random ones: a "
        "torchvision or timm state dict, or 'imagenet' (downloaded by "
        "segmentation-models-pytorch; online machines only)",
    )
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--from-scratch",
        dest="warm_start",
        action="store_false",
        help="train every round from random weights (default, as the paper)",
    )
    start.add_argument(
        "--warm-start",
        dest="warm_start",
        action="store_true",
        help="continue every round from the strategy's previous model",
    )
    p.set_defaults(warm_start=False)
    p.add_argument(
        "--warm-steps",
        type=int,
        default=0,
        metavar="N",
        help="with --warm-start: a round continuing from the previous model trains at least N "
        "optimiser steps instead of --epochs/--min-steps (0: the same as a first model)",
    )
    p.add_argument(
        "--weight-decay", type=float, default=0.0, help="AdamW weight decay (0: Adam, as the paper)"
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=0.2,
        help="held-out test frames (whole videos): a fraction < 1 or a frame count (0.2)",
    )
    p.add_argument(
        "--test-data",
        metavar="DIR",
        help="evaluate every model on these frames with ground truth (an official test or "
        "validation split) instead of holding videos of --data out; all of --data is pool",
    )
    p.add_argument("--seed", type=int, default=0, help="base seed; repeat r uses SEED+r (0)")
    p.add_argument("--augment", action="store_true", help="flip/rotate/colour augmentation")
    p.add_argument(
        "--dice-weight",
        type=float,
        default=0.0,
        help="add this times a soft-Dice loss to cross-entropy (0)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        metavar="N",
        help="score only N random unlabelled frames per round (default: the whole pool)",
    )
    p.add_argument(
        "--min-steps",
        type=int,
        default=0,
        metavar="N",
        help="train every model at least N optimiser steps, adding epochs to small labelled "
        "sets (0: exactly --epochs)",
    )
    p.add_argument(
        "--no-full-pool",
        dest="full_pool",
        action="store_false",
        help="skip the per-repeat model trained on every pool frame (the 'full-pool' rows)",
    )
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame of --data (1)")
    p.add_argument("--out", default="alges_simulation", help="experiment folder (%(default)s)")
    p.add_argument(
        "--keep-models",
        action="append",
        metavar="STRATEGY",
        help="keep every round's model of this strategy, not only the latest (57 MB a round "
        "for a Unet/ResNet-18; repeatable or comma-separated): what the surgeon's total "
        "(PROTOCOL part 3) needs",
    )
    add_device(p)
    add_dask_options(p, "the experiment's steps (each strategy and repeat a chain of tasks)")
    p.set_defaults(func=run_simulate)

    p = sub.add_parser(
        "plot",
        parents=parents,
        help="learning curves and summary table of a simulated experiment",
        description=PLOT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--results",
        required=True,
        action="append",
        help="experiment folder or its results.csv; repeat the option to combine folders that "
        "ran the same experiment with other seeds (repeats are then numbered by seed; needs --out)",
    )
    p.add_argument("--out", help="where to write the plots and summary (default: --results)")
    p.add_argument("--metric", default="mean_dice", help="column to plot (mean_dice)")
    p.add_argument("--title", help="title of the learning-curve figure")
    p.add_argument(
        "--resamples",
        type=int,
        default=10_000,
        metavar="N",
        help="bootstrap resamples of the repeats for the AUC interval (10000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    p.set_defaults(func=run_plot)


def _comma_list(values: list[str] | None) -> list[str]:
    """The names of a repeatable option whose values may also be comma-separated."""
    return [n.strip() for value in values or () for n in value.split(",") if n.strip()]


def _strategies(names: list[str] | None) -> tuple[str, ...]:
    """Every --strategy given (in order, once each), or the default set."""
    from alges_napari.core.acquire.strategies import available_strategies
    from alges_napari.core.experiment.config import DEFAULT_STRATEGIES

    flat = _comma_list(names)
    if not flat:
        return DEFAULT_STRATEGIES
    if "all" in flat:
        return tuple(available_strategies())
    return tuple(dict.fromkeys(flat))


def simulation_config(args: argparse.Namespace) -> Any:
    """The :class:`~alges_napari.core.experiment.config.SimulationConfig` of ``alges simulate``.

    Every option whose ``dest`` is a field name of SimulationConfig or of its ``train``
    (:class:`~alges_napari.core.learn.config.TrainConfig`) sets that field; the training
    fields without an option keep the paper's protocol
    (:func:`~alges_napari.core.experiment.config.paper_training`). ``--seed`` is the
    experiment's base seed, not a training field: each round derives its own.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``simulate`` arguments.

    Returns
    -------
    SimulationConfig
    """
    from alges_napari.core.experiment.config import SimulationConfig, paper_training
    from alges_napari.core.learn.config import TrainConfig

    train = paper_training(**fields_from(TrainConfig, args, skip=("seed",)))
    return SimulationConfig(
        strategies=_strategies(args.strategy),
        train=train,
        **fields_from(SimulationConfig, args, skip=("strategies", "train")),
    )


def run_simulate(args: argparse.Namespace) -> int:
    """``alges simulate``."""
    from alges_napari.core.experiment.loop import iter_simulate
    from alges_napari.core.experiment.store import discard_unfinished

    config = simulation_config(args)
    if not Path(args.data).exists():
        raise AlgesError(f"--data {args.data} does not exist")
    if args.test_data is not None and not Path(args.test_data).exists():
        raise AlgesError(f"--test-data {args.test_data} does not exist")
    bars = Bars(args.quiet, outer="step")

    def on_progress(p: Progress) -> None:
        bars(p)
        row = getattr(p, "row", None)  # a SimulationStep carries its finished row
        if row:
            say(
                args,
                f"{row['strategy']} repeat {row['repeat']} round {row['round']}: "
                f"{row['n_labelled']} labels, mean Dice {row['mean_dice']:.4f}",
            )

    created = not Path(args.out).exists()
    with dask_client(args) as client, graceful_interrupt(StopFlag(), args.quiet) as stop:
        try:
            work = iter_simulate(
                config, args.out, stop, args.device, client, args.engine,
                keep_models=_comma_list(args.keep_models),
            )  # fmt: skip
            result = run_to_end(work, on_progress)
        except Exception:
            if created:  # failed before its first step: leave no folder behind
                discard_unfinished(args.out, remove_root=True)
            raise
        finally:
            bars.close()
    results = Path(args.out) / "results.csv"
    say(
        args,
        f"{result.rows_written} new rows, {result.rows_skipped} steps already done: {results}",
    )
    if result.stopped:
        say(args, f"stopped; run the same command again to resume from {args.out}")
        return EXIT_INTERRUPTED
    return EXIT_OK


def _class_names(results: str) -> dict[int, str] | None:
    """Class names of the experiment's data, for the per-class table; None when unknown (the
    table then names classes by id)."""
    import json

    from alges_napari.core.data.frames import open_frames

    folder = Path(results) if Path(results).is_dir() else Path(results).parent
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))["data"]
        schema = open_frames(data).schema
    except (OSError, ValueError, KeyError, AlgesError):
        return None
    return None if schema is None else dict(enumerate(schema.names))


def run_plot(args: argparse.Namespace) -> int:
    """``alges plot``."""
    from alges_napari.core.experiment import curves, plots, summary

    if args.resamples < 1:
        raise AlgesError(f"--resamples must be at least 1, got {args.resamples}")
    if len(args.results) > 1:
        from alges_napari.core.experiment.combine import combine_results

        if not args.out:
            raise AlgesError("--out is required when --results is given more than once")
        rows = combine_results(args.results)
        out = Path(args.out)
    else:
        rows = curves.read_results(args.results[0])
        results = Path(args.results[0])
        out = Path(args.out) if args.out else (results if results.is_dir() else results.parent)
    lc = curves.learning_curves(rows, args.metric)
    full = curves.full_pool_score(rows, args.metric)
    ylabel = f"{args.metric} (test frames)"
    written = [
        plots.plot_curves(
            lc, out / "learning_curves.png", title=args.title, ylabel=ylabel, full_pool=full
        )
    ]
    costs = None
    if curves.has_values(rows, curves.CORRECTION_COLUMN):
        costs = curves.learning_curves(rows, curves.CORRECTION_COLUMN)
        png = out / "correction_curves.png"
        written.append(plots.plot_correction_curves(lc, costs, png, ylabel=ylabel, full_pool=full))
    table = summary.summarise(
        lc, full_pool=full, costs=costs, n_resamples=args.resamples, seed=args.seed
    )
    written += summary.write_summary(table, out)
    from alges_napari.core.experiment import per_class

    if per_class.class_ids(rows):  # results older than the dice_<id> columns have none
        classes = per_class.per_class_table(rows)
        written += per_class.write_per_class(classes, out, _class_names(args.results[0]))
    print(summary.format_markdown(table), end="")
    say(args, "wrote " + ", ".join(map(str, written)))
    return EXIT_OK
