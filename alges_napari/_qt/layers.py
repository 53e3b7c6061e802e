"""A project's frames, prediction, annotation and heat map as napari layers.

Layout in the viewer (bottom to top):

- **frames**: an RGB Image of the whole pool with a frame axis, backed by a dask array whose
  chunks are single frames decoded on demand (``_reader.lazy_frames``): nothing is held in RAM
  beyond what napari is displaying.
- **prediction**: Labels in the schema's colours at 40% opacity, not editable.
- **heat map**: Image, the ALGES-seg gradient map, in its own colormap (:data:`HEAT_COLORMAP`:
  transparent where the gradient is small, blue to cyan to white where it is large, colours
  no tissue or class has) at :data:`HEAT_OPACITY`; hidden until toggled. While it shows, the
  two label overlays are dimmed to :data:`DIMMED_OPACITY` (their own opacities come back when
  it is hidden): under them it could not be seen.
- **annotation**: Labels, editable with napari's brush, fill and eraser; 255 ("ignore", not
  labelled) is transparent and is what the eraser paints. The class names are layer features,
  so the status bar names the class under the cursor.

A layer the user removes from the viewer does not close the project: the layer object lives
on here (the annotation keeps its edits) and :meth:`ProjectLayers.put_back` inserts it again
at its place in the stack (see the dock widget for when).

Why the three overlays are 2-D layers holding only the *current* frame: napari broadcasts a
2-D layer over the leading (frame) axis of the 3-D frames layer, so the overlays stay aligned
with whatever frame is shown, and :meth:`ProjectLayers.show` refills them on every frame
change. Memory is therefore three frame-sized arrays whatever the pool size, and the brush,
fill, eraser and undo work on a plain writable numpy array (napari cannot paint into a lazy
dask array, and a memory-mapped (N, H, W) annotation would need a full-pool file that duplicates
``labels/``, where accepted labels already live as PNGs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.utils import Colormap
from napari.utils.notifications import show_warning
from qtpy.QtCore import QTimer

from alges_napari._reader import FRAME_AXES, lazy_frames, schema_colormap, schema_features
from alges_napari.core.data.classes import IGNORE_INDEX as IGNORE
from alges_napari.core.data.classes import ClassSchema
from alges_napari.core.data.frames.prefetch import NeighbourPrefetcher

FRAMES = "ALGES frames"
PREDICTION = "ALGES prediction"
HEAT = "ALGES heat map"
ANNOTATION = "ALGES annotation"
PREDICTION_OPACITY = 0.4
ANNOTATION_OPACITY = 0.6  # the frame must stay visible under the labels being corrected
#: The heat map's colours (RGBA, by heat 0..255): no colour at all where the gradient is small,
#: so the frame shows through, then blue, cyan and white: tissue is red, pink, yellow and brown,
#: and the class colours are those too, so only cold colours stand out on a laparoscopic frame.
HEAT_COLORMAP = Colormap(
    colors=[
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.2, 1.0, 0.2],
        [0.0, 0.8, 1.0, 0.75],
        [1.0, 1.0, 1.0, 1.0],
    ],
    controls=[0.0, 0.25, 0.6, 1.0],
    name="alges heat",
)
HEAT_OPACITY = 0.9
#: The label overlays' opacity while the heat map shows.
DIMMED_OPACITY = 0.12


def empty_mask(shape: tuple[int, int]) -> np.ndarray:
    """An all-ignore (255, "not labelled") mask of ``shape``."""
    return np.full(shape, IGNORE, np.uint8)


class ProjectLayers:
    """The four layers of one project in one viewer, and the frame they currently show.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer to add the layers to.
    frames : FrameSource
        The project's frames (``project.frames``).
    schema : ClassSchema
        The project's classes (colours and names).
    name : str
        Shown in the frames layer's name.
    """

    def __init__(self, viewer: Any, frames: Any, schema: ClassSchema, name: str = ""):
        self.viewer = viewer
        self.n_frames = len(frames)
        self.shape = tuple(frames.shape)
        empty = empty_mask(self.shape)
        colormap = schema_colormap(schema)
        features = schema_features(schema)
        label = f"{FRAMES} ({name})" if name else FRAMES
        # A video's strided frame costs a seek and a GOP's decode: its neighbours are decoded
        # ahead, in the background, within the prefetcher's memory budget (closed in remove).
        video = getattr(frames, "kind", None) == "video"
        self.prefetcher = NeighbourPrefetcher(frames) if video else None
        self.frames = viewer.add_image(
            lazy_frames(frames, self.prefetcher),
            name=label,
            rgb=True,
            # The prefetcher holds a video's recent frames within its budget; napari's own
            # chunk cache would hold them a second time, outside any budget, and costs time
            # on every step.
            cache=self.prefetcher is None,
            axis_labels=FRAME_AXES,
            metadata={"alges": "frames"},
        )
        self.prediction = viewer.add_labels(
            empty.copy(),
            name=PREDICTION,
            colormap=colormap,
            features=features,
            opacity=PREDICTION_OPACITY,
            metadata={"alges": "prediction"},
        )
        self.prediction.editable = False
        self.heat = viewer.add_image(
            np.zeros(self.shape, np.uint8),
            name=HEAT,
            colormap=HEAT_COLORMAP,
            blending="translucent",
            contrast_limits=(0, 255),
            opacity=HEAT_OPACITY,
            visible=False,
            metadata={"alges": "heat"},
        )
        self._undimmed: dict[Any, float] = {}  # overlay -> its opacity while the heat map shows
        self._blank = {"prediction": True, "heat": True}  # the overlay holds its empty array
        self.annotation = viewer.add_labels(
            empty.copy(),
            name=ANNOTATION,
            colormap=colormap,
            features=features,
            opacity=ANNOTATION_OPACITY,
            metadata={"alges": "annotation"},
        )
        self.annotation.selected_label = 1 if schema.num_classes > 1 else 0
        self._baseline = empty.copy()
        self.index: int | None = None
        viewer.layers.selection.active = self.annotation
        viewer.reset_view()

    # ------------------------------------------------------------ the frame axis

    @property
    def axis(self) -> int:
        """The world axis that runs over frames (the frames layer's first axis)."""
        return max(0, self.viewer.dims.ndim - 3)

    def current_index(self) -> int:
        """The frame the viewer shows now, clamped to the pool."""
        step = self.viewer.dims.current_step[self.axis]
        return int(min(max(step, 0), self.n_frames - 1))

    def go_to(self, index: int) -> None:
        """Move the viewer's frame slider to ``index`` (the overlays follow via ``show``)."""
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} out of range for {self.n_frames} frames")
        self.viewer.dims.set_current_step(self.axis, index)

    # ------------------------------------------------------------ overlay contents

    def show(
        self,
        index: int,
        annotation: np.ndarray | None,
        prediction: np.ndarray | None,
        heat: np.ndarray | None,
    ) -> None:
        """Fill the overlays with frame ``index``'s arrays (None shows nothing).

        The annotation's undo history starts afresh, so undo never reaches into another frame.
        """
        self.index = index
        self.set_prediction(prediction, heat)
        self.set_annotation(annotation if annotation is not None else empty_mask(self.shape))

    def set_prediction(self, prediction: np.ndarray | None, heat: np.ndarray | None) -> None:
        """Show ``prediction`` (class ids) and ``heat`` (uint8) for the current frame."""
        self._set_overlay("prediction", self.prediction, prediction, IGNORE)
        self._set_overlay("heat", self.heat, heat, 0)

    def _set_overlay(self, name: str, layer: Any, array: np.ndarray | None, fill: int) -> None:
        # New data costs napari a refresh and the canvas a texture upload, each time: at 854x480
        # about a fifth of a step of the frame slider (benchmarks/bench_scrub.py). A frame with
        # no prediction after one with none leaves the empty overlay as it is (neither layer is
        # editable, so nothing else changes it).
        if array is None and self._blank[name]:
            return
        layer.data = self._fit(array, fill)
        self._blank[name] = array is None

    def set_annotation(self, mask: np.ndarray, baseline: bool = True) -> None:
        """Replace the annotation with a copy of ``mask``.

        Parameters
        ----------
        mask : ndarray (H, W)
            Class ids, 255 = not labelled.
        baseline : bool
            Remember this content as "unedited" (see :attr:`edited`).
        """
        data = self._fit(mask, IGNORE)
        self._replace_annotation(data)
        if baseline:
            self._baseline = data.copy()

    def _replace_annotation(self, data: np.ndarray) -> None:
        # Undo must not cross into another frame, and napari has no public call that clears a
        # layer's undo history (``Labels._reset_history`` is private: plugins get a proxy that
        # warns, and napari will remove it). A Labels layer clears its history whenever it stops
        # being editable; setting data makes it editable again. The tool the user holds (paint,
        # fill, erase) is kept across the switch.
        layer = self.annotation
        mode = layer.mode
        layer.editable = False
        layer.data = data
        layer.editable = True
        if layer.mode != mode:
            layer.mode = mode

    def annotation_mask(self) -> np.ndarray:
        """A copy of the annotation as uint8 (H, W)."""
        return np.array(self.annotation.data, dtype=np.uint8)

    @property
    def edited(self) -> bool:
        """True when the annotation differs from what was last loaded into it."""
        return not np.array_equal(self.annotation.data, self._baseline)

    def mark_saved(self) -> None:
        """Treat the annotation's current content as unedited (after it was accepted)."""
        self._baseline = self.annotation_mask()

    def set_heat_visible(self, visible: bool) -> None:
        """Show the heat map with the label overlays dimmed, or hide it and undim them.

        The overlays get back the opacities they had when it was shown (a change the user made
        meanwhile is overridden).
        """
        if visible and not self._undimmed:
            for layer in (self.prediction, self.annotation):
                self._undimmed[layer] = float(layer.opacity)
                layer.opacity = min(float(layer.opacity), DIMMED_OPACITY)
        elif not visible:
            for layer, opacity in self._undimmed.items():
                layer.opacity = opacity
            self._undimmed.clear()
        self.heat.visible = bool(visible)

    @property
    def heat_shown(self) -> bool:
        """True while the heat map is shown (and the overlays dimmed)."""
        return bool(self.heat.visible)

    def _fit(self, array: np.ndarray | None, fill: int) -> np.ndarray:
        if array is None:
            return np.full(self.shape, fill, np.uint8)
        array = np.asarray(array)
        if array.shape != self.shape:
            raise ValueError(f"overlay of shape {array.shape} does not match frames {self.shape}")
        return np.array(array, dtype=np.uint8)

    # ------------------------------------------------------------ teardown

    def layers(self) -> list[Any]:
        """The four layers, bottom to top."""
        return [self.frames, self.prediction, self.heat, self.annotation]

    def missing(self) -> list[Any]:
        """The project's layers the user removed from the viewer, bottom to top."""
        return [layer for layer in self.layers() if layer not in self.viewer.layers]

    def put_back(self, *layers: Any) -> list[Any]:
        """Insert removed ``layers`` (default: all removed) again at their place in the stack.

        Each goes just above the nearest of the project's layers below it that is in the
        viewer (the bottom when none is). Putting the frames back returns the viewer to the
        frame the overlays show, as removing them reset the frame axis. Returns those put back.
        """
        order = self.layers()
        wanted = [layer for layer in (layers or order) if layer not in self.viewer.layers]
        for layer in sorted(wanted, key=order.index):
            below = [ly for ly in order[: order.index(layer)] if ly in self.viewer.layers]
            at = self.viewer.layers.index(below[-1]) + 1 if below else 0
            self.viewer.layers.insert(at, layer)
        if self.frames in wanted and self.index is not None:
            self.go_to(self.index)
        if self.annotation in wanted:
            self.viewer.layers.selection.active = self.annotation
        return wanted

    def remove(self) -> None:
        """Take the layers out of the viewer (those the user already removed are skipped) and
        stop prefetching."""
        for layer in self.layers():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        if self.prefetcher is not None:
            self.prefetcher.close()


class LayerKeeper:
    """What happens when the user removes one of the project's layers: never a closed project.

    - the frames and the annotation (unaccepted edits live only there) are put back once
      napari has finished removing them, with a note to hide them with their eye instead;
    - the prediction is not needed to work on (Auto-fill and Start from prediction read the
      project's cache): the dock puts it back with the next round's predictions;
    - the heat map comes back when Heat map is ticked (the box is unticked, the overlays
      undimmed, when it is removed).

    Parameters
    ----------
    layers : ProjectLayers
        The project's layers.
    heat_box : QCheckBox
        The annotate panel's Heat map switch.
    """

    def __init__(self, layers: ProjectLayers, heat_box: Any):
        self._layers, self._heat_box = layers, heat_box
        self._reported: list[Any] = []  # removed layers already reported

    def removed(self) -> None:
        """A layer left the viewer (napari's ``layers.events.removed``)."""
        layers = self._layers
        gone = layers.missing()
        if layers.heat in gone and self._heat_box.isChecked():
            self._heat_box.setChecked(False)  # undims the label overlays
        if layers.prediction in gone and not any(ly is layers.prediction for ly in self._reported):
            show_warning(
                "ALGES: prediction layer removed: Auto-fill and Start from prediction still "
                "work; it comes back with the next round"
            )
        self._reported = gone
        if layers.frames in gone or layers.annotation in gone:
            QTimer.singleShot(0, self.put_back_essentials)

    def put_back_essentials(self) -> list[Any]:
        """Put the frames and the annotation back, unless the viewer holds no layer at all.

        An empty viewer is closing (``Viewer.close`` clears the layers) or was emptied by the
        user: then the next frame change of the dock brings them back. Returns those put back.
        """
        layers = self._layers
        if not len(layers.viewer.layers):
            return []
        back = layers.put_back(layers.frames, layers.annotation)
        if back:
            names = " and ".join(layer.name for layer in back)
            show_warning(f"ALGES: {names} put back: the project needs it (hide it with its eye)")
        self._reported = layers.missing()
        return back
