"""Render docs/screenshot.png: the ALGES widget after one round on synthetic sample frames.

Run ``.venv/bin/python scripts/screenshot.py`` (it re-runs itself under ``xvfb-run`` when there
is no display). Steps: write a small SYNTHETIC CholecSeg8k tree, dock the widget, create a
project (CPU preset, 2 epochs), accept ground-truth masks of the first queued frames (standing
in for a surgeon's labels), run "Retrain and rank" in its thread worker, go to the first frame of
the new queue, start from the prediction, paint a short brush stroke, save.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("ALGES_SCREENSHOT_CHILD"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("no display and no xvfb-run: apt-get install -y xvfb")
    env = dict(os.environ, ALGES_SCREENSHOT_CHILD="1")
    cmd = [xvfb, "-a", "-s", "-screen 0 1920x1200x24", sys.executable, *sys.argv]
    sys.exit(subprocess.call(cmd, env=env))


def _wait(app, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the round did not finish in time")
        app.processEvents()
        time.sleep(0.02)


def _dismiss_notifications(viewer) -> None:
    """Close napari's notification toasts so they do not cover the canvas."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def main(argv: list[str] | None = None) -> int:
    """Build the scene and save the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", type=int, nargs=2, default=(240, 427), metavar=("H", "W"))
    args = parser.parse_args(argv)
    _ensure_display()

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from alges_napari._qt.widget import AlgesWidget
    from alges_napari.core.data.synthetic import write_cholecseg8k_tree

    work = Path(tempfile.mkdtemp(prefix="alges_shot_"))
    try:
        tree = write_cholecseg8k_tree(work / "cholecseg8k", 3, 12, tuple(args.size), seed=0)
        viewer = napari.Viewer(title="alges-napari")
        viewer.window.resize(1560, 1150)
        widget = AlgesWidget(viewer)
        viewer.window.add_dock_widget(widget, name="ALGES Active Learning", area="right")
        app = QApplication.instance()
        for _ in range(10):  # let the window and dock take their size before the camera fits
            app.processEvents()
            time.sleep(0.02)
        project = widget.create_project(
            str(tree), str(work / "project"), input_size=(128, 224), epochs=12
        )
        frames = project.frames
        for entry in project.queue[:10]:  # ground truth stands in for the surgeon's labels
            widget.go_to_key(entry.key)
            widget.layers.set_annotation(frames.ground_truth(frames.index_of(entry.key)))
            widget.annotate.validation.setChecked(entry.rank % 3 == 2)
            widget.accept()
        widget.annotate.validation.setChecked(False)
        widget.retrain()
        _wait(app, lambda: not widget.round_running, timeout=900)
        widget.annotate.auto_prediction.setChecked(False)
        widget.go_to_key(project.pending_queue()[0].key)
        widget.start_from_prediction()
        layer = widget.layers.annotation
        widget.choose_class(5)  # Grasper
        layer.brush_size = 6
        h, w = args.size
        for x in np.linspace(w * 0.55, w * 0.75, 12):
            layer.paint((h * 0.35, x), layer.selected_label)
        _dismiss_notifications(viewer)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.05)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(args.out), canvas_only=False)
        print(f"saved {args.out}")
        widget.shutdown()
        viewer.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
