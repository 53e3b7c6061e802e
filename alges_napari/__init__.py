"""alges-napari: active learning with gradient embeddings for laparoscopic segmentation, in napari."""

__version__ = "0.1.0"

#: npe2 names: the plugin, its dock widget's display name and its sample's key (napari.yaml).
PLUGIN_NAME = "alges-napari"
WIDGET_NAME = "ALGES Active Learning"
SAMPLE_KEY = "synthetic_clip"
