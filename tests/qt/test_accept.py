"""Accept saves what was painted; nothing painted, or a label the project refuses, saves nothing."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt

from alges_napari._qt.layers import IGNORE
from alges_napari.core.errors import AlgesError


def test_accept_with_nothing_painted_is_refused_and_saves_nothing(
    project_widget, qtbot, messages
) -> None:
    widget, viewer = project_widget
    project, layer = widget.project, widget.layers.annotation
    key = widget.current_key
    assert (layer.data == IGNORE).all()  # a new frame, no model: nothing painted yet

    assert widget.accept() is None
    qtbot.mouseClick(widget.annotate.accept, Qt.MouseButton.LeftButton)  # the button: the same
    assert project.status(key) == "unlabelled" and project.labelled_keys() == []
    assert not project.label_path(key).exists()
    assert widget.status.counts.text().startswith("Labelled 0 / 16 frames")
    assert len([m for m in messages if "nothing is painted" in m]) == 2
    assert all(m.startswith("ALGES: ") for m in messages)

    layer.paint((5, 5), 2)
    layer.paint((5, 5), IGNORE)  # painted, then erased again: still nothing to save
    assert widget.accept() is None and project.status(key) == "unlabelled"

    layer.paint((5, 5), 2)
    path = widget.accept()  # one labelled pixel is a label
    assert path is not None and project.status(key) == "labelled"
    saved = project.load_label(key)
    assert saved[5, 5] == 2 and (saved != IGNORE).sum() == (layer.data != IGNORE).sum()

    layer.data_setitem(np.nonzero(layer.data != IGNORE), IGNORE)  # erase the accepted label
    messages.clear()
    assert widget.accept() is None  # the label on disk stays what it was
    np.testing.assert_array_equal(project.load_label(key), saved)
    assert any("nothing is painted" in m for m in messages)


def test_a_label_the_project_refuses_is_reported_and_kept_on_screen(
    project_widget, monkeypatch, messages
) -> None:
    """The project's own refusal (an AlgesError, e.g. an empty label) is one notification;
    no exception escapes, nothing is saved and the painted annotation stays to be fixed."""
    widget, viewer = project_widget
    project, layer = widget.project, widget.layers.annotation
    key = widget.current_key

    def refuse(*_args, **_kwargs):
        raise AlgesError(f"refusing to accept {key}: the label has no labelled pixel")

    monkeypatch.setattr(project, "accept_label", refuse)
    layer.paint((5, 5), 3)
    painted = np.array(layer.data)
    assert widget.accept() is None
    assert messages == [f"ALGES: refusing to accept {key}: the label has no labelled pixel"]
    assert project.status(key) == "unlabelled" and not project.label_path(key).exists()
    np.testing.assert_array_equal(layer.data, painted)
    assert widget.layers.edited  # still an edit to fix and accept
