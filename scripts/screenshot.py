"""Render the screenshots in docs/screenshots/ (and the README's docs/screenshot.png).

Run ``.venv/bin/python scripts/screenshot.py`` (needs ``xvfb-run``: ``apt-get install -y
xvfb``). For each screen size (default 1366x768 and 1600x1000) it starts napari on a virtual
screen of exactly that size with fresh napari settings (a true first launch) and saves, as the
whole screen shows them:

1. ``first_launch_WxH.png``: the main command's window: the SYNTHETIC sample
   (``sample_data/cholecseg8k``) opened by the plugin's reader and the widget docked, before
   any project exists;
2. ``round1_prefilled_WxH.png``: a project created with the form's DEFAULT settings (preset,
   schema, stride, frames per round, strategy, epochs, as they are in the tree when this runs),
   the first queue labelled with the ground truth (standing in for a surgeon's labels), one
   "Retrain and rank", then **Next**: queue #1 as the widget opens it after round 1 (Auto-fill
   on, as by default; whether the prediction is pasted is the widget's own decision);
3. ``scissors_outline_WxH.png``: the same frame with the Scissors mode on, three anchors
   clicked and the leg to the cursor drawn (then dropped: nothing is painted);
4. ``round1_status_WxH.png``: the Status tab after that round (its log line);
5. ``alges_seg_queue_WxH.png``: the new queue labelled the same way, ALGES-seg chosen in the
   Learn tab, a second round, then Next: the queue with its scores;
6. ``heat_map_WxH.png``: Heat map ticked on that frame.

The rounds run once, on the first size; the other sizes open copies of the project as it was
after each round (the widget opens a project on the first frame of its queue, as Next after a
round does). ``--readme`` (default ``docs/screenshot.png``) gets a copy of the pre-filled
frame at 1600x1000. Shots are saved as 256-colour PNGs to keep the repository small.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = ("1366x768", "1600x1000")
README_SIZE = "1600x1000"
ROUND_TIMEOUT_S = 3600.0


def _parent(args: argparse.Namespace) -> int:
    """Run one child per screen size under its own Xvfb screen; copy the README shot."""
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("screenshot.py needs xvfb-run: apt-get install -y xvfb")
    work = Path(tempfile.mkdtemp(prefix="alges_shots_"))
    try:
        sizes = args.sizes.split(",")
        for i, size in enumerate(sizes):
            width, height = (int(v) for v in size.lower().split("x"))
            env = dict(os.environ, NAPARI_CONFIG=str(work / f"napari_{size}.yaml"))
            env.setdefault("QT_API", "pyqt6")  # as the README's main command
            env.pop("DISPLAY", None)
            cmd = [
                xvfb,
                "-a",
                "-s",
                f"-screen 0 {width}x{height}x24",
                sys.executable,
                __file__,
                "--child",
                size,
                "--work",
                str(work),
                "--out-dir",
                str(args.out_dir),
                "--data",
                str(args.data),
            ]
            if args.launch_only:
                cmd.append("--launch-only")
            elif i == 0:
                cmd.append("--rounds")
            started = time.monotonic()
            code = subprocess.call(cmd, env=env)
            print(f"{size}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
            if code:
                return code
        shot = args.out_dir / f"round1_prefilled_{README_SIZE}.png"
        if args.readme and shot.is_file():
            shutil.copyfile(shot, args.readme)
            print(f"copied {shot} -> {args.readme}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# ---------------------------------------------------------------- the child (one screen size)


def _settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def _wait(app, condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not finish in {timeout:.0f} s")
        app.processEvents()
        time.sleep(0.02)


def _dismiss_notifications(viewer) -> None:
    """Close napari's toasts so they do not cover the canvas (the Status log keeps the text)."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def _save(app, viewer, path: Path) -> None:
    """The whole screen as a 256-colour PNG (what the user sees, window size included)."""
    from PIL import Image

    _dismiss_notifications(viewer)
    _settle(app, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw.png")
    app.primaryScreen().grabWindow(0).save(str(raw))
    with Image.open(raw) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    raw.unlink()
    print(f"saved {path} ({path.stat().st_size // 1024} KiB)", flush=True)


def _label_queue_from_truth(app, widget) -> None:
    """Accept the ground truth of every queued, unlabelled frame, one after the other."""
    project = widget.project
    frames = project.frames
    for entry in project.pending_queue():
        widget.go_to_key(entry.key)
        widget.layers.set_annotation(frames.ground_truth(frames.index_of(entry.key)))
        assert widget.accept() is not None, entry.key
        app.processEvents()


def _round(app, widget) -> None:
    """Click Retrain and rank, wait for the round, click Next."""
    widget.learn.retrain.click()
    assert widget.round_running, "Retrain and rank did not start a round"
    _wait(app, lambda: not widget.round_running, ROUND_TIMEOUT_S, "the round")
    _settle(app, 0.5)
    widget.annotate.next.click()


def _scissors(app, viewer, widget, path: Path) -> None:
    """The Scissors mode mid-outline on the frame shown: three anchors clicked, the leg to the
    cursor drawn; then the outline is dropped and the mode switched off (nothing painted)."""
    widget.annotate.scissors.click()
    tool = widget.superpixels.scissors
    frames = widget.project.frames
    index = frames.index_of(widget.current_key)
    h, w = np.asarray(frames[index]).shape[:2]
    for row, col in ((0.30, 0.35), (0.32, 0.62), (0.62, 0.60)):
        tool.add_anchor((index, row * h, col * w))
    tool.preview_to((index, 0.66 * h, 0.36 * w))
    _save(app, viewer, path)
    tool.cancel()
    widget.annotate.scissors.click()


def _child(args: argparse.Namespace) -> int:
    import napari
    from qtpy.QtWidgets import QApplication

    from alges_napari import PLUGIN_NAME, WIDGET_NAME

    size = args.child
    out = args.out_dir
    viewer = napari.Viewer(title="alges-napari")
    app = QApplication.instance()
    viewer.open(str(args.data), plugin=PLUGIN_NAME)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, WIDGET_NAME)
    _settle(app, 2.0)
    _save(app, viewer, out / f"first_launch_{size}.png")
    if args.launch_only:
        viewer.close()
        return 0

    # The folder the form suggests, but in the work folder: never beside the repository's
    # sample. The copies after each round keep its name (the frames layer shows it).
    name = f"{args.data.name}_alges"
    after = [args.work / "after_round1" / name, args.work / "after_round2" / name]
    if args.rounds:
        widget.form.root.value = args.work / name
        widget.form.create_button.click()
        assert widget.project is not None, widget.form.problem.text()
        _label_queue_from_truth(app, widget)
        _round(app, widget)
        shutil.copytree(widget.project.root, after[0])
    else:
        assert widget.open_project(after[0]) is not None, widget.form.problem.text()
    _settle(app, 1.0)
    _save(app, viewer, out / f"round1_prefilled_{size}.png")
    _scissors(app, viewer, widget, out / f"scissors_outline_{size}.png")
    widget.dock.show_tab("Status")
    _save(app, viewer, out / f"round1_status_{size}.png")
    widget.dock.show_tab("Correct")

    if args.rounds:
        _label_queue_from_truth(app, widget)
        widget.learn.strategy.value = "alges-seg"
        _round(app, widget)
        shutil.copytree(widget.project.root, after[1])
    else:
        assert widget.open_project(after[1]) is not None, widget.form.problem.text()
    _settle(app, 1.0)
    _save(app, viewer, out / f"alges_seg_queue_{size}.png")
    widget.annotate.heat.setChecked(True)
    _save(app, viewer, out / f"heat_map_{size}.png")

    widget.shutdown()
    viewer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments; the parent starts the children, a child takes its shots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="screen sizes, WxH,WxH")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--readme",
        type=Path,
        default=ROOT / "docs" / "screenshot.png",
        help=f"where the {README_SIZE} pre-filled shot is copied ('' for nowhere)",
    )
    parser.add_argument("--data", type=Path, default=ROOT / "sample_data" / "cholecseg8k")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--launch-only", action="store_true", help="only the first-launch shots")
    args = parser.parse_args(argv)
    if args.readme is not None and str(args.readme) in ("", "."):
        args.readme = None
    return _child(args) if args.child else _parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
