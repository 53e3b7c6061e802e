"""A fast superpixel drag through a real napari viewer: two mouse events far apart paint every
superpixel on the straight segment between them, with the selected class, as one undo step."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt

from tests.qt.mouse_gestures import gesture


def _crossed(start, end, h: int, w: int) -> set[tuple[int, int]]:
    """Brute force: pixels whose square [r-.5, r+.5] x [c-.5, c+.5] the segment crosses over a
    positive length (clipped per square), and the pixels of its two end points."""
    a, d = np.asarray(start, float), np.asarray(end, float) - np.asarray(start, float)
    hit = {tuple(int(np.floor(v + 0.5)) for v in p) for p in (a, a + d)}
    for r in range(h):
        for c in range(w):
            lo_t, hi_t = 0.0, 1.0
            for axis, centre in ((0, r), (1, c)):
                if d[axis] == 0:
                    if abs(a[axis] - centre) > 0.5:
                        lo_t, hi_t = 1.0, 0.0
                    continue
                t0, t1 = sorted(((centre - 0.5 - a[axis]) / d[axis],
                                 (centre + 0.5 - a[axis]) / d[axis]))
                lo_t, hi_t = max(lo_t, t0), min(hi_t, t1)
            if hi_t - lo_t > 1e-12:
                hit.add((r, c))
    return hit


def test_a_fast_drag_paints_every_superpixel_it_crosses(project_widget, qtbot) -> None:
    widget, _viewer = project_widget
    layer = widget.layers.annotation
    qtbot.mouseClick(widget.annotate.superpixels, Qt.MouseButton.LeftButton)
    tool = widget.superpixels
    tool.wait()
    sp = tool.labels()
    assert tool.enabled and sp is not None
    qtbot.mouseClick(widget.annotate.palette.buttons[4], Qt.MouseButton.LeftButton)
    assert layer.selected_label == 4
    index = widget.project.frames.index_of(widget.current_key)
    h, w = sp.shape
    start, end = (2.3, 3.1), (h - 4.2, w - 2.7)  # corner to corner: two mouse events only
    before = np.array(layer.data)
    paints: list[object] = []
    layer.events.paint.connect(paints.append)

    gesture(layer, [(index, *start), (index, *end)])  # a press, one move, a release

    crossed = {int(sp[r, c]) for r, c in _crossed(start, end, h, w)}
    ends = {int(sp[round(start[0]), round(start[1])]), int(sp[round(end[0]), round(end[1])])}
    assert len(crossed - ends) >= 2  # the old tool (superpixels under the events) missed these
    expect = before.copy()
    expect[np.isin(sp, list(crossed))] = 4
    np.testing.assert_array_equal(layer.data, expect)
    assert len(paints) == 1  # one edit action
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)  # one undo restores all of it
