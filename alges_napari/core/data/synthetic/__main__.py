"""``python -m alges_napari.core.data.synthetic --out DIR ...`` writes a synthetic CholecSeg8k tree."""

from alges_napari.core.data.synthetic.clips import main

raise SystemExit(main())
