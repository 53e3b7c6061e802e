"""Synthetic laparoscopic clips with exact ground truth, in the CholecSeg8k formats.

:mod:`.clips` renders clips and writes CholecSeg8k trees; :mod:`.scene` builds the anatomy and
its shading, :mod:`.tools` the instruments. ``python -m alges_napari.core.data.synthetic`` writes a tree.
"""

from alges_napari.core.data.synthetic.clips import (
    SyntheticClip,
    boundary_pixels,
    clip_dir_name,
    generate_clip,
    iter_write_cholecseg8k_tree,
    write_cholecseg8k_tree,
)

__all__ = [
    "SyntheticClip",
    "boundary_pixels",
    "clip_dir_name",
    "generate_clip",
    "iter_write_cholecseg8k_tree",
    "write_cholecseg8k_tree",
]
