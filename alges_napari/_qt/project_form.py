"""Open a project, or create one from frames, a project folder, a class schema and a preset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from alges_napari.core.learn.train import PRESETS

FROM_SOURCE = "from the frames"
JSON_ITEM = "JSON file..."
VIDEO_FILTER = "Frames (*.mp4 *.avi *.mov *.mkv *.tif *.tiff);;All files (*)"


class ProjectForm(QWidget):
    """The "project" panel: fields for a new project, and an "Open project..." button.

    Signals
    -------
    create_requested(dict)
        ``{"source", "root", "schema", "preset", "stride"}`` from the fields.
    open_requested(str)
        A project folder picked by the user.
    """

    create_requested = Signal(dict)
    open_requested = Signal(str)

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.source = QLineEdit()
        self.source.setPlaceholderText("folder, CholecSeg8k tree, video, TIFF")
        self.root = QLineEdit()
        self.root.setPlaceholderText("new empty folder")
        self.schema = QComboBox()
        self.schema.addItems([FROM_SOURCE, "cholecseg8k", JSON_ITEM])
        self.schema.setToolTip(
            "Class names and colours: the frames' own (CholecSeg8k trees; CholecSeg8k's 13 "
            "classes otherwise), CholecSeg8k's, or a JSON schema file of your own"
        )
        self.schema.activated.connect(self._on_schema)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip(
            "\n".join(
                f"{name}: {c.arch}/{c.encoder} at {c.input_size[0]}x{c.input_size[1]}, "
                f"{c.epochs} epochs, batch {c.batch_size}"
                for name, c in PRESETS.items()
            )
        )
        self.stride = QSpinBox()
        self.stride.setRange(1, 10_000)
        self.stride.setToolTip("Use every n-th frame of the source")
        self.create_button = QPushButton("Create project")
        self.open_button = QPushButton("Open project...")
        self.create_button.clicked.connect(self._emit_create)
        self.open_button.clicked.connect(self._pick_project)

        form = QFormLayout()
        form.addRow("Frames", self._with_browse(self.source, self._source_menu()))
        form.addRow("Project", self._with_browse(self.root, None, self._pick_root))
        form.addRow("Classes", self.schema)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.stride)
        form.addRow("Preset, stride", preset_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ values

    def values(self) -> dict[str, Any]:
        """The fields as keyword arguments for ``Project.create`` (plus ``root``)."""
        schema = self.schema.currentText()
        return {
            "source": self.source.text().strip(),
            "root": self.root.text().strip(),
            "schema": None if schema == FROM_SOURCE else schema,
            "preset": self.preset.currentText(),
            "stride": self.stride.value(),
        }

    def suggest_source(self, path: str) -> None:
        """Pre-fill the frames field (from a layer the plugin's reader opened) when empty."""
        if not self.source.text().strip():
            self.source.setText(path)
            if not self.root.text().strip():
                self.root.setText(str(Path(path).parent / f"{Path(path).name}_alges"))

    # ------------------------------------------------------------ dialogs

    def _with_browse(self, edit: QLineEdit, menu: QMenu | None, slot: Any = None) -> QHBoxLayout:
        button = QToolButton()
        button.setText("...")
        if menu is not None:
            button.setMenu(menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        else:
            button.clicked.connect(slot)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _source_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Folder or CholecSeg8k tree...", self._pick_source_folder)
        menu.addAction("Video or TIFF file...", self._pick_source_file)
        return menu

    def _pick_source_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Frames folder")
        if path:
            self.source.setText(path)

    def _pick_source_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video or TIFF stack", "", VIDEO_FILTER)
        if path:
            self.source.setText(path)

    def _pick_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Empty folder for the new project")
        if path:
            self.root.setText(path)

    def _pick_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an ALGES project folder")
        if path:
            self.open_requested.emit(path)

    def _on_schema(self, index: int) -> None:
        if self.schema.itemText(index) != JSON_ITEM:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Class schema", "", "JSON (*.json)")
        if path:
            self.schema.insertItem(self.schema.count() - 1, path)
            self.schema.setCurrentIndex(self.schema.count() - 2)
        else:
            self.schema.setCurrentIndex(0)

    def _emit_create(self) -> None:
        self.create_requested.emit(self.values())
