"""``alges init``, ``train``, ``rank``, ``export`` and ``import``: work on a project folder."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from alges_napari.cli.cluster import add_dask_options, dask_client, rank_scorer
from alges_napari.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Bars,
    OneStrategy,
    add_device,
    add_query_size,
    fields_from,
    graceful_interrupt,
    say,
)
from alges_napari.core.acquire.strategies import DEFAULT_STRATEGY
from alges_napari.core.progress import StopFlag, run_to_end

#: ``export labels --format`` and ``import --format`` choices: core.project.export.LABEL_FORMATS
#: and core.project.label_import.IMPORT_FORMATS, written out so that ``alges --help`` imports
#: neither (a test checks that they are the same).
LABEL_FORMATS = ("index", "cholecseg8k", "nnunet", "coco", "cvat-mask")
IMPORT_FORMATS = ("masks", "coco", "cvat-mask", "nnunet")


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``init``, ``train``, ``rank``, ``export`` and ``import``."""
    p = sub.add_parser(
        "init",
        parents=parents,
        help="create a project over a frame source",
        description="Create an active-learning project folder over frames (an image folder, a "
        "CholecSeg8k tree, a video file or a TIFF stack), as the widget's 'new project' does.",
    )
    p.add_argument("--project", required=True, help="project folder to create (new or empty)")
    p.add_argument("--data", required=True, help="the frames")
    p.add_argument(
        "--schema",
        help="class schema: 'cholecseg8k' or a JSON file (default: the "
        "source's own, else CholecSeg8k)",
    )
    p.add_argument(
        "--preset",
        choices=("cpu", "gpu"),
        default="cpu",
        help="training settings: cpu (interactive on a laptop) or gpu (the paper's)",
    )
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame (1)")
    p.add_argument(
        "--input-size",
        "--size",
        dest="input_size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="model input size, multiples of 32 (default: the preset's)",
    )
    p.add_argument("--epochs", type=int, help="epochs per round (default: the preset's)")
    p.add_argument("--encoder", help="encoder (default: the preset's, resnet18)")
    p.add_argument(
        "--encoder-weights",
        metavar="PATH|imagenet",
        help="start models from these encoder weights: a torchvision or timm state dict "
        "(.pth or .safetensors; ResNet-18 for resnet18), or 'imagenet' to have "
        "segmentation-models-pytorch download its ImageNet weights (online machines only); "
        "the project keeps a copy and records the file's name and SHA-256 (default: random)",
    )
    p.set_defaults(func=run_init)

    p = sub.add_parser(
        "train",
        parents=parents,
        help="one round on a project: train on its labels, score the pool, queue the next batch",
        description="Run one active-learning round on a project, exactly as the widget's Train "
        "button: fine-tune on the accepted labels, save the checkpoint, measure validation "
        "Dice, score every unlabelled frame and write the next queue.",
    )
    _round_options(p, training=True)
    p.set_defaults(func=run_train)

    p = sub.add_parser(
        "rank",
        parents=parents,
        help="score the pool with the project's latest model and write the queue (no training)",
        description="One scoring-and-selection pass of a project (the widget's code, without "
        "training): the latest checkpoint scores every unlabelled frame, the strategy picks "
        "the next frames, and the queue, predictions and heat maps are written into the "
        "project. Meant for a GPU server; the widget picks the queue up when it reopens.",
    )
    _round_options(p, training=False)
    p.add_argument(
        "--json",
        action="store_true",
        help="print the queue as JSON on stdout, in pick order: [{key, rank (0: picked "
        "first), score (the frame's informativeness under measure, higher: more), strategy, "
        "measure, relative (score as 0-100 of the most informative frame scored), pick_value "
        "(the strategy's value at pick time: k-means++ D^2, core-set distance; else null)}, ...]",
    )
    add_dask_options(p, "the scoring pass")
    p.set_defaults(func=run_rank)

    p = sub.add_parser(
        "export",
        parents=parents,
        help="export a project's labels or model",
        description="Export the accepted labels (index PNGs, or a CholecSeg8k tree with colour "
        "and watershed masks) or the trained model (safetensors + metadata).",
    )
    p.add_argument("what", choices=("labels", "model"), help="what to export")
    p.add_argument("--project", required=True, help="project folder (opened read-only)")
    p.add_argument("--out", required=True, help="new folder to write")
    p.add_argument(
        "--format",
        choices=LABEL_FORMATS,
        default="index",
        help="labels: index PNGs (default), CholecSeg8k colour/watershed tree, an nnU-Net v2 "
        "raw dataset, COCO JSON (RLE), or CVAT segmentation mask 1.1",
    )
    p.add_argument(
        "--validation-as-test",
        action="store_true",
        help="nnunet: validation frames go to imagesTs/labelsTs instead of the training cases",
    )
    p.add_argument("--round", type=int, help="model: this round's checkpoint (default: latest)")
    p.set_defaults(func=run_export)

    p = sub.add_parser(
        "import",
        parents=parents,
        help="import labels made elsewhere into a project as accepted labels",
        description="Import existing labels (an images/ + masks/ folder, COCO polygons or RLE, "
        "CVAT segmentation mask 1.1, an nnU-Net raw dataset) as accepted labels: each file is "
        "matched to a project frame by name, and a report says what matched, what did not, "
        "and which files hold a class id or colour outside the project's schema (those are "
        "not imported). Frames that already have an accepted label keep it unless "
        "--overwrite. Exit code 2 when anything found was not imported.",
    )
    p.add_argument("--project", required=True, help="project folder (opened for writing)")
    p.add_argument("--format", required=True, choices=IMPORT_FORMATS, help="the labels' format")
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="DIR_OR_FILE",
        help="the dataset folder (coco: its JSON file, or a folder holding one)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the accepted labels of frames that already have one",
    )
    p.set_defaults(func=run_import)


def _round_options(p: argparse.ArgumentParser, training: bool) -> None:
    p.add_argument("--project", required=True, help="project folder (opened for writing)")
    p.add_argument(
        "--strategy",
        action=OneStrategy,
        default=DEFAULT_STRATEGY,
        metavar="NAME",
        help=f"selection strategy, one per run ({DEFAULT_STRATEGY})",
    )
    add_query_size(p, "frames to queue (10)")
    p.add_argument(
        "--candidates",
        type=int,
        metavar="N",
        help="score only N random unlabelled frames (default: all)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of selection (and training) (0)")
    if training:
        p.add_argument("--epochs", type=int, help="epochs (default: the project's)")
        p.add_argument("--batch-size", type=int, help="batch size (default: the project's)")
        start = p.add_mutually_exclusive_group()
        start.add_argument(
            "--warm-start",
            dest="warm_start",
            action="store_true",
            default=None,
            help="continue from the latest checkpoint (the project's default)",
        )
        start.add_argument(
            "--from-scratch",
            dest="warm_start",
            action="store_false",
            help="train from random weights",
        )
    add_device(p)


def _round_config(args: argparse.Namespace) -> Any:
    """The RoundConfig of ``train`` or ``rank``, field by field from the options of the same
    name (``strategy``: the Strategy that check_args resolved from ``--strategy``; ``rank``
    has no training options, so those keep RoundConfig's None: the project's settings)."""
    from alges_napari.core.session import RoundConfig

    return RoundConfig(**fields_from(RoundConfig, args))


def run_init(args: argparse.Namespace) -> int:
    """``alges init``."""
    from alges_napari.core.learn.config import TrainConfig
    from alges_napari.core.project.project import Project

    # the training options given (--input-size, --epochs, --encoder) override the preset's
    overrides = fields_from(TrainConfig, args, given=True)
    with Project.create(
        args.project,
        args.data,
        schema=args.schema,
        preset=args.preset,
        stride=args.stride,
        encoder_weights=args.encoder_weights,
        **overrides,
    ) as project:
        init = project.config.get("encoder_weights")
        say(
            args,
            f"created {project.root}: {len(project.keys)} frames, "
            f"{project.schema.num_classes} classes ({project.schema.name})"
            + (f"; encoder from {init['file']}" if init else ""),
        )
    return EXIT_OK


def _run_with_session(args: argparse.Namespace, work: Any) -> Any:
    """Open the project, run ``work(session, stop)`` (a generator) with bars and clean Ctrl-C."""
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession

    bars = Bars(args.quiet)
    with Project.open(args.project) as project, graceful_interrupt(StopFlag()) as stop:
        session = ActiveLearningSession(project, device=args.device, engine=args.engine)
        try:
            return run_to_end(work(session, stop), bars)
        finally:
            bars.close()


def _queue_message(result: Any) -> str:
    head = ", ".join(e.key for e in result.queue[:3])
    more = f" (+{len(result.queue) - 3} more)" if len(result.queue) > 3 else ""
    return f"queue of {len(result.queue)} frames: {head}{more}"


def run_train(args: argparse.Namespace) -> int:
    """``alges train``."""
    cfg = _round_config(args)
    result = _run_with_session(args, lambda session, stop: session.run_round(cfg, stop))
    if result.stopped:
        say(args, f"round {result.round} stopped: {result.message}")
        return EXIT_INTERRUPTED
    dice = (
        "n/a (no labelled validation frames)"
        if math.isnan(result.mean_dice)
        else (f"{result.mean_dice:.4f}")
    )
    say(args, f"round {result.round}: validation mean Dice {dice}; {_queue_message(result)}")
    return EXIT_OK


def run_rank(args: argparse.Namespace) -> int:
    """``alges rank``."""
    cfg = _round_config(args)
    with dask_client(args) as client:
        result = _run_with_session(
            args,
            lambda session, stop: session.rank(
                cfg, stop, rank_scorer(session.project, client, args)
            ),
        )
    if result.stopped:
        say(args, result.message or "stopped; the previous queue stays")
        return EXIT_INTERRUPTED
    say(args, _queue_message(result))
    if args.json:
        print(json.dumps([e.to_json() for e in result.queue], indent=1))
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    """``alges export``."""
    from alges_napari.core.project.export import export_labels, export_model
    from alges_napari.core.project.project import Project

    with Project.open(args.project, readonly=True) as project:
        if args.what == "labels":
            # export_labels refuses a project without labels before writing anything; the count
            # comes from labels/, not the frames, which may have moved
            path = export_labels(
                project, args.out, fmt=args.format, validation_as_test=args.validation_as_test
            )
            what = f"{len(project.label_keys())} label(s)"
        else:
            path = export_model(project, args.out, round_index=args.round)
            what = "the model"
    say(args, f"exported {what} to {path}")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    """``alges import``: the report goes to stderr (even with --quiet when incomplete)."""
    import sys

    from alges_napari.core.project.label_import import import_labels
    from alges_napari.core.project.project import Project

    with Project.open(args.project) as project:
        report = import_labels(project, args.format, args.source, overwrite=args.overwrite)
    if report.complete:
        say(args, "\n".join(report.lines()))
        return EXIT_OK
    print("\n".join(f"alges import: {line}" for line in report.lines()), file=sys.stderr)
    return EXIT_USAGE
