"""The pieces of the ``alges`` command; :mod:`alges_napari.cli` assembles them."""
