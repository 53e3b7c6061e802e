"""Every ``alges`` argument checked before its command does any work (issue 25).

:func:`check_args` runs between parsing and the command: a mistyped strategy, engine or device,
a bad size or number, or a missing path is refused with exit code 2 and a message naming the
value, before a model is trained, a project opened or a file written. The checks themselves are
:mod:`alges_napari.core.validate`'s, which the widget uses too.
"""

from __future__ import annotations

import argparse
from typing import Any

from alges_napari.core import validate

#: Whole-number options by attribute: (option, smallest value).
_WHOLE = {
    "query_size": ("--query-size", 1),
    "candidates": ("--candidates", 1),
    "seed": ("--seed", 0),
    "epochs": ("--epochs", 1),
    "batch_size": ("--batch-size", 1),
    "stride": ("--stride", 1),
    "round": ("--round", 1),
    "min_steps": ("--min-steps", 0),
}
#: The model names of ``alges simulate`` checked only when changed (segmentation-models-pytorch
#: takes seconds to import, and the defaults are known to be good).
_DEFAULT_MODEL = ("Unet", "resnet18")


def check_args(args: argparse.Namespace) -> None:
    """Check the parsed arguments of ``args.command``; raises AlgesError naming a bad value.

    Resolves what it checks in place, once, for the command to hand down: one ``--strategy``
    (``train``, ``rank``) to its :class:`~alges_napari.core.acquire.strategies.Strategy`,
    ``--device`` to lower case, ``--engine`` to the engine chosen (``$ALGES_ENGINE``, read here
    and only here, when the option is not given; None: auto).
    """
    for attr, (option, minimum) in _WHOLE.items():
        if hasattr(args, attr):
            validate.check_whole(option, getattr(args, attr), minimum)
    if hasattr(args, "input_size"):
        validate.check_size("--input-size", args.input_size)
    if getattr(args, "strategy", None) is not None:
        args.strategy = _strategies(args.strategy)
    if hasattr(args, "device"):
        args.device = validate.check_device(args.device)
    if hasattr(args, "engine"):
        chosen = args.engine if args.engine is not None else validate.engine_from_env()
        args.engine = validate.check_engine(chosen)
    _check_paths(args)


def _strategies(value: str | list[str]) -> Any:
    if isinstance(value, str):  # train, rank: one strategy, resolved here for the round
        return validate.resolve_strategy(value)
    names = [n.strip() for item in value for n in item.split(",") if n.strip()]
    for name in names:  # simulate: names, comma lists or 'all'
        if name != "all":
            validate.check_strategy(name)
    return value


def _check_paths(args: argparse.Namespace) -> None:
    command = args.command
    if command == "init":
        validate.check_new_folder("--project", args.project)
        validate.check_exists("--data", args.data)
        if args.schema is not None:
            _check_schema(args.schema)
        if args.encoder is not None:
            validate.check_model(None, args.encoder)
    elif command in ("train", "rank"):
        validate.check_project(args.project)
    elif command == "export":
        validate.check_project(args.project)
        validate.check_new_folder("--out", args.out)
    elif command == "simulate":
        validate.check_exists("--data", args.data)
        arch = args.arch if args.arch != _DEFAULT_MODEL[0] else None
        encoder = args.encoder if args.encoder != _DEFAULT_MODEL[1] else None
        if arch is not None or encoder is not None:
            validate.check_model(arch, encoder)
    elif command == "plot":
        for results in args.results:
            validate.check_exists("--results", results)
    elif command == "demo" and args.data is not None:
        validate.check_exists("--data", args.data)


def _check_schema(schema: str) -> None:
    from alges_napari.core.data.classes import BUILTIN_SCHEMAS, get_schema

    if not schema.lower().endswith(".json"):
        validate.check_choice("class schema", schema.lower(), sorted(BUILTIN_SCHEMAS))
    else:
        validate.check_exists("--schema", schema)
    get_schema(schema)  # a JSON file is read and checked here, before the project exists
