"""Synthetic laparoscopic clips with exact ground truth, in the CholecSeg8k formats.

:mod:`.clips` renders clips and writes CholecSeg8k trees; :mod:`.scene` builds the anatomy and
its shading, :mod:`.tools` the instruments, :mod:`.camera` the camera motion and the view both
renderers draw through. ``python -m alges_napari.core.data.synthetic`` writes a tree.

The ``benchmark`` preset (``--preset benchmark``) writes trees with the structure of real
surgical video instead: videos of near-duplicate clips with CholecSeg8k's class frequencies,
rare structures in few clips and videos, and hard frames. Its numbers live in :mod:`.preset`,
the tree's plan in :mod:`.plan`, each clip's scene in :mod:`.layout`, rendering and writing in
:mod:`.benchmark`; :mod:`.stats` measures any CholecSeg8k-layout tree against the targets
(docs/benchmark_data.md).
"""

from alges_napari.core.data.synthetic.benchmark import (
    BenchmarkClip,
    iter_write_benchmark_tree,
)
from alges_napari.core.data.synthetic.clips import (
    SyntheticClip,
    boundary_pixels,
    clip_dir_name,
    generate_clip,
    iter_write_cholecseg8k_tree,
    write_cholecseg8k_tree,
    write_frame_files,
)
from alges_napari.core.data.synthetic.plan import plan_benchmark
from alges_napari.core.data.synthetic.preset import BENCHMARK, BenchmarkPreset

__all__ = [
    "BENCHMARK",
    "BenchmarkClip",
    "BenchmarkPreset",
    "SyntheticClip",
    "boundary_pixels",
    "clip_dir_name",
    "generate_clip",
    "iter_write_benchmark_tree",
    "iter_write_cholecseg8k_tree",
    "plan_benchmark",
    "write_cholecseg8k_tree",
    "write_frame_files",
]
