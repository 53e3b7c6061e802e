"""``python -m alges_napari.cli`` runs the ``alges`` command."""

from alges_napari.cli import main

raise SystemExit(main())
