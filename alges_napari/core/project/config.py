"""``alges_project.json``: what a project is made of (frame source, class schema, training).

Written once when the project is created and only read afterwards, checked against its declared
schema (:mod:`.schemas`); :data:`FORMAT_VERSION` also versions ``state.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from alges_napari.core.errors import ProjectError
from alges_napari.core.project import schemas
from alges_napari.core.project.files import CONFIG_FILE, now_iso

FORMAT_VERSION = 1


def new_config(
    source: Any, schema: Any, preset: str, stride: int, **model_overrides: Any
) -> tuple[dict[str, Any], Any, Any]:
    """Open the frame source and schema of a new project and describe them as its config.

    Parameters are those of :meth:`~alges_napari.core.project.project.Project.create`.

    Returns
    -------
    config : dict
        The content of ``alges_project.json``.
    source : FrameSource
        The opened frames.
    schema : ClassSchema
        The class schema.
    """
    from alges_napari.core.data import classes, frames
    from alges_napari.core.learn.config import preset_config

    if isinstance(source, (str, os.PathLike)):
        source = frames.open_frames(source, stride=stride)
    if schema is None:
        schema = getattr(source, "schema", None) or classes.CHOLECSEG8K
    elif not isinstance(schema, classes.ClassSchema):
        schema = classes.get_schema(schema)
    train_cfg = preset_config(preset, **model_overrides)
    config = {
        "format": "alges-project",
        "version": FORMAT_VERSION,
        "created": now_iso(),
        "source": source.describe(),
        "classes": schema.to_json(),
        "preset": preset,
        "train": train_cfg.to_json(),
    }
    return config, source, schema


def read_config(root: Path) -> dict[str, Any]:
    """Read and check ``alges_project.json`` of ``root`` against its declared schema.

    Raises
    ------
    ProjectError
        When the folder is not a project, the config is unreadable, written by a newer
        alges-napari, or holds a value of the wrong kind: one line naming the file and the
        field (see :mod:`.schemas`).
    """
    path = root / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProjectError(f"{root} is not an alges project (no {CONFIG_FILE})") from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise ProjectError(f"cannot read project config {path}: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != "alges-project":
        raise ProjectError(f"{path} is not an alges project config")
    version = schemas.format_version(config)
    if version is not None and version > FORMAT_VERSION:
        raise ProjectError(
            f"{path} has format version {version}; this alges-napari "
            f"reads up to {FORMAT_VERSION}: upgrade alges-napari"
        )
    try:
        schemas.validate_config(config)
    except (schemas.ValidationError, RecursionError) as exc:
        why = schemas.one_line(exc) if isinstance(exc, schemas.ValidationError) else str(exc)
        raise ProjectError(
            f"{path}: {why}; correct the file (or restore it from a backup)"
        ) from None
    return config
