"""alges-napari: active learning with gradient embeddings for laparoscopic segmentation, in napari."""

__version__ = "0.1.0"
