"""``python -m alges_napari.core.data.synthetic [--preset benchmark] --out DIR ...`` writes a
synthetic CholecSeg8k tree (see :mod:`.command`)."""

from alges_napari.core.data.synthetic.command import main

raise SystemExit(main())
