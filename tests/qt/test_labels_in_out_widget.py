"""The dock's side of labels in and out: export formats, the import action, encoder weights."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from tests.qt.conftest import TINY


def test_project_form_passes_encoder_weights(widget_and_viewer, sample_tree, tmp_path) -> None:
    from alges_napari._qt.torch_guard import prepare_model_stack
    from alges_napari.core.learn.model import build_model

    widget, _ = widget_and_viewer
    prepare_model_stack()  # as the widget does before it builds a model (see torch_guard)
    form = widget.form
    assert form.values()["encoder_weights"] is None
    weights = tmp_path / "resnet18.pth"
    # a ResNet-18's tensors under torchvision's names (the core tests use torchvision itself)
    torch.save(build_model("Unet", "resnet18", num_classes=2).encoder.state_dict(), weights)
    form.encoder_weights.value = weights
    values = form.values()
    assert values["encoder_weights"] == str(weights)
    values.update(source=str(sample_tree), root=str(tmp_path / "p"), **TINY)
    project = widget.create_project(**values)
    assert project is not None
    assert project.config["encoder_weights"]["file"] == "resnet18.pth"


def test_export_formats_and_the_import_action(project_widget, tmp_path, qtbot, messages) -> None:
    widget, _ = project_widget
    assert list(widget.export.options.fmt.choices) == [
        "index", "cholecseg8k", "nnunet", "coco", "cvat-mask"
    ]  # fmt: skip
    assert widget.export.import_button.isEnabled()
    project = widget.project
    key = project.keys[0]
    masks = tmp_path / "in" / "masks"
    (masks / key).parent.mkdir(parents=True)
    mask = np.full(project.frames.shape, 4, np.uint8)
    Image.fromarray(mask).save(masks / f"{key}.png")
    Image.fromarray(mask).save(masks / "not_a_frame.png")
    job = widget.exports.import_labels("masks", masks.parent)
    qtbot.waitUntil(job.finished.is_set, timeout=30_000)
    qtbot.waitUntil(lambda: any("imported 1 label(s)" in m for m in messages), timeout=10_000)
    assert any("1 matched no frame" in m for m in messages)
    np.testing.assert_array_equal(project.load_label(key), mask)
    out = tmp_path / "coco"
    job = widget.export_labels(out, "coco")
    qtbot.waitUntil(job.finished.is_set, timeout=30_000)
    assert (out / "annotations.json").is_file()
