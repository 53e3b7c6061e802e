"""Open a project, or create one from frames, a project folder, a class schema and a preset.

The fields are a magicgui form made from the typed signature of :func:`project_fields`: its
annotations pick the widgets (paths get a line edit and a browse button, choices a combo box,
bounded ints a spin box) and its numpydoc parameters become their tooltips.
"""

# No `from __future__ import annotations`: magicgui reads the annotations of the form's
# signature at run time.
from pathlib import Path
from typing import Annotated, Any

from magicgui import magicgui
from magicgui.widgets import Container, PushButton
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from alges_napari.core.learn.config import PRESETS
from alges_napari.core.project.files import CONFIG_FILE

FROM_SOURCE = "from the frames"
JSON_ITEM = "JSON file..."
VIDEO_FILTER = "Frames (*.mp4 *.avi *.mov *.mkv *.tif *.tiff);;All files (*)"
WEIGHTS_FILTER = "Weights (*.pth *.pt *.safetensors *.bin);;All files (*)"
CREATE_TEXT = "Create project"
OPEN_EXISTING_TEXT = "Open existing project"


def holds_project(folder: Path | str | None) -> bool:
    """True when ``folder`` holds an ALGES project (its config file)."""
    return folder is not None and str(folder) != "" and (Path(folder) / CONFIG_FILE).is_file()


def is_occupied(folder: Path | str | None) -> bool:
    """True when ``folder`` exists and is not an empty folder (no project can be created)."""
    if folder is None or str(folder) == "":
        return False
    path = Path(folder)
    try:
        return path.exists() and (not path.is_dir() or any(path.iterdir()))
    except OSError:
        return True


def fresh_project_folder(frames: Path) -> Path:
    """``<frames>_alges`` beside the frames, or the first ``<frames>_alges_<n>`` free of files.

    A folder that already holds a project is kept: the form then offers to open it.
    """
    base = frames.parent / f"{frames.name}_alges"
    candidate, n = base, 1
    while is_occupied(candidate) and not holds_project(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def project_fields(
    source: Annotated[Path | None, {"mode": "d", "label": "Frames"}] = None,
    root: Annotated[Path | None, {"mode": "d", "label": "Project"}] = None,
    schema: Annotated[
        str, {"choices": [FROM_SOURCE, "cholecseg8k", JSON_ITEM], "label": "Classes"}
    ] = FROM_SOURCE,
    preset: Annotated[str, {"choices": list(PRESETS), "label": "Preset"}] = "cpu",
    stride: Annotated[int, {"min": 1, "max": 10_000, "label": "Stride"}] = 1,
    encoder_weights: Annotated[
        Path | None, {"mode": "r", "label": "Encoder", "filter": WEIGHTS_FILTER}
    ] = None,
) -> dict[str, Any]:
    """The fields of a new project, as keyword arguments of ``Project.create``.

    Parameters
    ----------
    source : Path
        The frames: an image folder, a CholecSeg8k tree, a video or a TIFF stack.
    root : Path
        A new, empty folder for the project (labels, models and state live there).
    schema : str
        Class names and colours: the frames' own (CholecSeg8k trees; CholecSeg8k's 13
        classes otherwise), CholecSeg8k's, or a JSON schema file of your own.
    preset : str
        Model and training settings (see the list's tooltip).
    stride : int
        Use every n-th frame of the source.
    encoder_weights : Path
        Start the model's encoder from a torchvision or timm state dict (ResNet-18 for the
        presets' resnet18; .pth or .safetensors), or type imagenet to have
        segmentation-models-pytorch download its ImageNet weights (online only). Empty:
        random weights.
    """
    weights = None if encoder_weights is None else str(encoder_weights)
    return {
        "source": "" if source is None else str(source),
        "root": "" if root is None else str(root),
        "schema": None if schema == FROM_SOURCE else schema,
        "preset": preset,
        "stride": int(stride),
        "encoder_weights": None if weights in (None, "", ".") else weights,
    }


def _preset_tooltip() -> str:
    return "\n".join(
        f"{name}: {c.arch}/{c.encoder} at {c.input_size[0]}x{c.input_size[1]}, "
        f"{c.epochs} epochs, batch {c.batch_size}"
        for name, c in PRESETS.items()
    )


class ProjectForm(QWidget):
    """The "project" panel: fields for a new project and "Open project...", or the open one.

    Attributes
    ----------
    fields : magicgui.widgets.FunctionGui
        The form of :func:`project_fields`; ``source``, ``root``, ``schema``, ``preset``,
        ``stride`` and ``encoder_weights`` are its magicgui widgets (set ``.value``).

    Signals
    -------
    create_requested(dict)
        ``{"source", "root", "schema", "preset", "stride", "encoder_weights"}`` from the fields.
    open_requested(str)
        A project folder picked by the user, or the project folder field's when it already
        holds a project (the Create button then reads "Open existing project").
    """

    create_requested = Signal(dict)
    open_requested = Signal(str)

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.fields = magicgui(project_fields, call_button=False)
        self.fields.margins = (0, 0, 0, 0)
        self.fields.native.layout().setSpacing(2)  # the dock must fit a laptop screen
        f = self.fields
        self.source, self.root, self.schema = f.source, f.root, f.schema
        self.preset, self.stride, self.encoder_weights = f.preset, f.stride, f.encoder_weights
        self.source.line_edit.native.setPlaceholderText("folder, CholecSeg8k tree, video, TIFF")
        self.root.line_edit.native.setPlaceholderText("new empty folder")
        self.encoder_weights.line_edit.native.setPlaceholderText("random, a .pth file, or imagenet")
        self.encoder_weights.choose_btn.text = "..."
        self.preset.tooltip = _preset_tooltip()
        self._browse_source_with_menu()
        self.root.choose_btn.text = "..."
        self.schema.changed.connect(self._on_schema)
        create, open_ = PushButton(text=CREATE_TEXT), PushButton(text="Open project...")
        create.changed.connect(self._emit_create)
        open_.changed.connect(self._pick_project)
        self.buttons = Container(widgets=[create, open_], layout="horizontal", labels=False)
        self.buttons.margins = (0, 0, 0, 0)
        self.create_button, self.open_button = create.native, open_.native
        # What the project folder field means, and the last refusal: persistent, whole lines
        # (a toast is cut off and gone after a few seconds).
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #ff8080")
        self.root.changed.connect(lambda *_: self.refresh_root())
        self.source.changed.connect(lambda *_: self.show_problem(None))
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Close the project (accepted labels are already saved)")
        info_row = QHBoxLayout()  # one row: the dock must fit a laptop screen without scrolling
        info_row.addWidget(self.info, 1)
        info_row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(f.native)
        layout.addWidget(self.buttons.native)
        layout.addWidget(self.hint)
        layout.addWidget(self.problem)
        layout.addLayout(info_row)
        self.show_project(None)

    def show_project(self, text: str | None, tooltip: str = "") -> None:
        """Show an open project's line and Close button, or (``None``) the new-project fields.

        The fields are for the next project: hidden while one is open, the dock stays short.
        """
        is_open = text is not None
        self.fields.native.setVisible(not is_open)
        self.buttons.native.setVisible(not is_open)
        self.show_problem(None)
        self.refresh_root()  # a project just closed is now an existing one
        self.hint.setVisible(not is_open and bool(self.hint.text()))
        self.info.setText(text or "")
        self.info.setToolTip(tooltip)
        self.info.setVisible(is_open)
        self.close_button.setVisible(is_open)

    # ------------------------------------------------------------ values

    def values(self) -> dict[str, Any]:
        """The fields as keyword arguments for ``Project.create`` (plus ``root``)."""
        return self.fields()

    def suggest_source(self, path: str) -> None:
        """Pre-fill the frames field (from a layer the plugin's reader opened) when empty.

        The project folder becomes ``<frames>_alges`` beside the frames, or the project already
        there (offered for opening), or else the first ``<frames>_alges_<n>`` with no files.
        """
        if self.source.value is None:
            self.source.value = path
            if self.root.value is None:
                self.root.value = fresh_project_folder(Path(path))

    @property
    def offers_existing(self) -> bool:
        """True when the project folder field holds a project: Create opens it instead."""
        return holds_project(self.root.value)

    def refresh_root(self) -> None:
        """Name the main button and the hint after what the project folder field holds now."""
        root = self.root.value
        self.show_problem(None)
        if holds_project(root):
            self.create_button.setText(OPEN_EXISTING_TEXT)
            self.create_button.setToolTip(f"Open the project in {root}")
            self.hint.setText(
                f"{Path(root).name} already holds a project: open it to go on labelling, "
                "or choose another folder for a new one."
            )
        else:
            self.create_button.setText(CREATE_TEXT)
            self.create_button.setToolTip("Create a new project in the project folder")
            self.hint.setText(
                f"{Path(root).name} is not empty: choose a new or empty folder for the project."
                if is_occupied(root)
                else ""
            )
        self.hint.setVisible(bool(self.hint.text()) and not self.fields.native.isHidden())

    def show_problem(self, text: str | None) -> None:
        """Show why the last Create or Open was refused (until a field changes), or clear it."""
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    # ------------------------------------------------------------ dialogs

    def _browse_source_with_menu(self) -> None:
        # A source is a folder (image folder, CholecSeg8k tree) or a file (video, TIFF stack):
        # one browse button with a menu of both, instead of magicgui's one-mode dialog.
        button = self.source.choose_btn
        button.changed.disconnect()
        button.text = "..."
        menu = QMenu(self)
        menu.addAction("Folder or CholecSeg8k tree...", self._pick_source_folder)
        menu.addAction("Video or TIFF file...", self._pick_source_file)
        button.native.setMenu(menu)
        button.tooltip = "Choose a frames folder or a video / TIFF file"

    def _pick_source_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Frames folder")
        if path:
            self.source.value = path

    def _pick_source_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video or TIFF stack", "", VIDEO_FILTER)
        if path:
            self.source.value = path

    def _pick_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an ALGES project folder")
        if path:
            self.open_requested.emit(path)

    def _on_schema(self, value: str) -> None:
        if value != JSON_ITEM:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Class schema", "", "JSON (*.json)")
        choices = list(self.schema.choices)
        if path:
            if path not in choices:
                choices.insert(len(choices) - 1, path)
                self.schema.choices = choices
            self.schema.value = path
        else:
            self.schema.value = FROM_SOURCE

    def _emit_create(self) -> None:
        if self.offers_existing:  # checked on the click: the folder may have changed meanwhile
            self.open_requested.emit(str(self.root.value))
        else:
            self.create_requested.emit(self.values())
