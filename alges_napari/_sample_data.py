"""npe2 sample data: a synthetic laparoscopic clip with its ground truth, made on the fly.

Nothing is read from the repository, so the sample works from an installed wheel; the clip is
small (30 frames of 240x427) so that File > Open Sample answers in a few seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alges_napari.core.data.classes import CHOLECSEG8K, ClassSchema
from alges_napari.core.data.synthetic import generate_clip

SAMPLE_FRAMES = 30
SAMPLE_SIZE = (240, 427)


def labels_colormap(schema: ClassSchema) -> Any:
    """A napari colormap that paints every class in its schema colour.

    Class 0 (CholecSeg8k's Black Background, outside the endoscope's field of view) is left
    transparent: the frame is already black there and a grey veil would only hide it.

    Parameters
    ----------
    schema : ClassSchema
        The class names and colours.

    Returns
    -------
    napari.utils.colormaps.DirectLabelColormap
    """
    from napari.utils.colormaps import DirectLabelColormap

    colours: dict[int | None, tuple[float, ...]] = {None: (0.0, 0.0, 0.0, 0.0)}
    for cls, rgb in enumerate(schema.colors):
        colours[cls] = (*(c / 255 for c in rgb), 0.0 if cls == 0 else 1.0)
    return DirectLabelColormap(color_dict=colours)


def make_sample_data(
    n_frames: int = SAMPLE_FRAMES, size: tuple[int, int] = SAMPLE_SIZE, seed: int = 0
) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """Generate a synthetic clip and its ground truth as napari layer data.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    size : (int, int)
        Frame size (H, W).
    seed : int
        Seed of the synthetic family.

    Returns
    -------
    list of (data, kwargs, layer_type)
        An RGB image stack (N, H, W, 3) and a labels stack (N, H, W) of CholecSeg8k classes.
    """
    pairs = list(generate_clip(0, n_frames, size, seed))
    frames = np.stack([f for f, _ in pairs])
    masks = np.stack([m for _, m in pairs])
    features = {"index": np.arange(CHOLECSEG8K.num_classes), "class": list(CHOLECSEG8K.names)}
    return [
        (frames, {"name": "synthetic clip (SYNTHETIC)", "rgb": True}, "image"),
        (
            masks,
            {
                "name": "ground truth",
                "colormap": labels_colormap(CHOLECSEG8K),
                "features": features,
                "opacity": 0.5,
            },
            "labels",
        ),
    ]
