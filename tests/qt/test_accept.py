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


def test_an_unusable_label_file_is_named_and_can_be_replaced(project_widget, messages) -> None:
    """A label file the project refuses to read (class 77 in a 13-class project) never reaches
    the screen: moving to its frame names the file, shows nothing of it and stays on that
    frame, so the user can paint the frame again and accept it over the bad file."""
    from PIL import Image

    from alges_napari._qt.status_view import iter_label_pixels

    widget, viewer = project_widget
    project = widget.project
    first, key = project.queue[0].key, project.queue[1].key
    widget.go_to_key(key)
    widget.layers.annotation.paint((5, 5), 2)
    assert widget.accept() is not None
    widget.go_to_key(first)
    bad = np.full((64, 96), 77, np.uint8)
    Image.fromarray(bad).save(project.label_path(key))  # damaged on disk behind our back
    messages.clear()

    widget.go_to_key(key)
    assert widget.current_key == key and widget.annotate.frame_info.text().startswith("Frame")
    assert (widget.layers.annotation.data == IGNORE).all()  # nothing of the bad file shown
    assert any("77" in m and str(project.label_path(key).name) in m for m in messages)
    counting = iter_label_pixels(project, [key])  # what a project opening counts, in a worker
    while True:
        try:
            next(counting)
        except StopIteration as done:
            assert done.value == {}  # left out of the pixel counts, no error
            break

    widget.layers.annotation.paint((6, 6), 3)
    assert widget.accept() is not None  # painting and accepting replaces the bad file
    assert project.load_label(key)[6, 6] == 3
