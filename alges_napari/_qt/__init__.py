"""The napari dock widget and its parts: the only package that imports qtpy, napari or magicgui."""
