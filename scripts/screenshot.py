"""Render docs/screenshot.png: the ALGES widget after one round on the synthetic sample data.

Run ``.venv/bin/python scripts/screenshot.py`` (it re-runs itself under ``xvfb-run`` when there
is no display). Steps: dock the widget, create a project on ``sample_data/cholecseg8k`` (the
SYNTHETIC sample; CPU preset, 12 epochs), accept the ground
truth of the first queued frames (standing in for a surgeon's labels), run "Retrain and rank"
(ALGES-seg) in its thread worker, go to the first frame of the new queue, start from the
prediction, switch superpixel painting on and click a few superpixels with the palette's
class, save.
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
    parser.add_argument("--data", type=Path, default=ROOT / "sample_data" / "cholecseg8k")
    parser.add_argument("--paint-class", type=int, default=5, help="class the clicks paint")
    args = parser.parse_args(argv)
    _ensure_display()

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from alges_napari._qt.widget import AlgesWidget

    work = Path(tempfile.mkdtemp(prefix="alges_shot_"))
    try:
        viewer = napari.Viewer(title="alges-napari")
        widget = AlgesWidget(viewer)
        viewer.window.add_dock_widget(widget, name="ALGES Active Learning", area="right")
        app = QApplication.instance()
        for _ in range(10):  # let the window and dock take their size before the camera fits
            app.processEvents()
            time.sleep(0.02)
        project = widget.create_project(
            str(args.data), str(work / "project"), input_size=(128, 224), epochs=12
        )
        frames = project.frames
        for entry in project.queue[:10]:  # ground truth stands in for the surgeon's labels
            widget.go_to_key(entry.key)
            widget.layers.set_annotation(frames.ground_truth(frames.index_of(entry.key)))
            widget.annotate.validation.setChecked(entry.rank % 3 == 2)
            widget.accept()
        widget.annotate.validation.setChecked(False)
        widget.learn.strategy.value = "alges-seg"
        widget.retrain()
        _wait(app, lambda: not widget.round_running, timeout=900)
        widget.annotate.auto_prediction.setChecked(False)
        widget.go_to_key(project.pending_queue()[0].key)
        widget.start_from_prediction()
        widget.choose_class(args.paint_class)
        widget.annotate.superpixels.click()
        tool = widget.superpixels
        tool.wait()
        index = widget.layers.current_index()
        labels, shown = tool.labels(), widget.layers.annotation.data
        # Click the largest superpixels the prediction has wrong where the truth is this class,
        # as a corrector would: the click fills each one up to the image's edges.
        truth = frames.ground_truth(frames.index_of(widget.current_key))
        wrong = (truth == args.paint_class) & (shown != args.paint_class)
        sizes = np.bincount(labels[wrong], minlength=labels.max() + 1)
        for sp in np.argsort(sizes)[::-1][:12]:
            rows, cols = np.nonzero(labels == sp)
            tool.paint_at((index, rows[len(rows) // 2], cols[len(cols) // 2]))
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
