"""alges-napari: active learning with gradient embeddings for laparoscopic segmentation, in napari."""

import os

__version__ = "0.1.0"

#: npe2 names: the plugin, its dock widget's display name and its sample's key (napari.yaml).
PLUGIN_NAME = "alges-napari"
WIDGET_NAME = "ALGES Active Learning"
SAMPLE_KEY = "synthetic_clip"

# PyTorch's OpenMP threads busy-wait between parallel regions by default. Our training and
# scoring always share the CPU with napari's GUI (and the user's other programs): with one other
# busy process on a 2-core machine, eager inference ran 2.5x slower spinning than sleeping,
# and no slower quiet (benchmarks/bench_load.py). OpenMP reads this once, when PyTorch is first
# imported, so it has to be set before: here. A value the user set is kept.
if not os.environ.get("OMP_WAIT_POLICY"):
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
