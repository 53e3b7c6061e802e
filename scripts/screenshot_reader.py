"""Screenshot of napari showing a synthetic clip with its ground-truth overlay (README figure).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot_reader.py docs/reader.png
"""

from __future__ import annotations

import sys

import napari


def main(out: str = "docs/reader.png") -> None:
    viewer = napari.Viewer(title="alges-napari: synthetic CholecSeg8k sample")
    viewer.window.resize(1300, 800)
    viewer.open("sample_data/cholecseg8k", plugin="alges-napari")
    labels = [layer for layer in viewer.layers if layer._type_string == "labels"][0]
    labels.opacity = 0.45
    viewer.dims.set_current_step(0, 20)
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    viewer.screenshot(out, canvas_only=False)
    viewer.close()
    print("wrote", out)


if __name__ == "__main__":
    main(*sys.argv[1:])
