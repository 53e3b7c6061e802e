"""The class palette: the schema's classes as coloured, named buttons, with keyboard shortcuts.

Shortcuts: **Alt+0 .. Alt+9** pick classes 0-9 and **Ctrl+Alt+0 .. Ctrl+Alt+9** classes 10-19.
napari 0.9.2 binds the bare digits 1-7 to the Labels tools (and other layers' tools), and of
Alt combinations only Alt+Up/Down and Shift+Alt+Up/Down, and Ctrl+Alt+T and Ctrl+Alt+/
(``napari.utils.shortcuts``), so these are free. The selected class is always on show in the
line above the buttons (its colour, id and name), whatever tool is painting.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QButtonGroup, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

#: Buttons per row.
COLUMNS = 2


def class_key(index: int) -> str | None:
    """The napari key name that picks class ``index`` (None beyond the 20 that have one)."""
    if 0 <= index < 10:
        return f"Alt-{index}"
    if 10 <= index < 20:
        return f"Control-Alt-{index - 10}"
    return None


def _text_colour(rgb: tuple[int, int, int]) -> str:
    # Dark text on light swatches, light on dark (ITU-R BT.601 luma).
    r, g, b = rgb
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


class ClassPalette(QWidget):
    """Coloured class buttons; emits :attr:`class_chosen` with the class id of a clicked one.

    Parameters
    ----------
    parent : QWidget, optional

    Attributes
    ----------
    buttons : list of QPushButton
        One per class, in class-id order.
    current : QLabel
        The selected class (swatch, id, name).
    """

    class_chosen = Signal(int)

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.current = QLabel("Class: none")
        self.current.setToolTip("The class that clicks, superpixels, napari's brush and fill paint")
        self.buttons: list[QPushButton] = []
        self._names: tuple[str, ...] = ()
        self._colors: tuple[tuple[int, int, int], ...] = ()
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self.class_chosen.emit)
        self._grid = QGridLayout()
        self._grid.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.current)
        layout.addLayout(self._grid)
        self._keys: list[str] = []

    def set_classes(self, names: tuple[str, ...], colors: tuple[tuple[int, int, int], ...]) -> None:
        """One button per class (its name on its colour, the shortcut in the tooltip)."""
        for button in self.buttons:
            self._group.removeButton(button)
            button.deleteLater()
        self.buttons = []
        self._names, self._colors = tuple(names), tuple(tuple(c) for c in colors)
        for i, (name, rgb) in enumerate(zip(self._names, self._colors, strict=True)):
            button = QPushButton(f"{i} {name}")
            button.setCheckable(True)
            colour = QColor(*rgb).name()
            button.setStyleSheet(
                f"QPushButton {{ background-color: {colour}; color: {_text_colour(rgb)}; "
                "padding: 2px 4px; text-align: left; border: 2px solid transparent; }"
                "QPushButton:checked { border: 2px solid #ffffff; font-weight: bold; }"
            )
            key = class_key(i)
            shortcut = f" [{key.replace('Control', 'Ctrl').replace('-', '+')}]" if key else ""
            button.setToolTip(f"Paint class {i}: {name}{shortcut}")
            self._group.addButton(button, i)
            self._grid.addWidget(button, i // COLUMNS, i % COLUMNS)
            self.buttons.append(button)

    def select(self, index: int) -> None:
        """Show class ``index`` as the selected one (no signal)."""
        if not 0 <= index < len(self.buttons):
            self.current.setText(f"Class: {index} (not in the schema)")
            return
        self.buttons[index].setChecked(True)
        rgb = self._colors[index]
        self.current.setText(
            f"Class: <span style='background-color:{QColor(*rgb).name()}'>&nbsp;&nbsp;&nbsp;"
            f"</span> <b>{index} {self._names[index]}</b>"
        )

    @property
    def selected(self) -> int:
        """The checked button's class id, or -1."""
        return self._group.checkedId()

    # ------------------------------------------------------------ shortcuts

    def bind_keys(self, viewer: Any) -> list[str]:
        """Bind each class's key on ``viewer`` to choosing it (:attr:`class_chosen`).

        Returns the keys bound; a key someone else already holds is left to them (the button
        still works).
        """
        self.unbind_keys(viewer)
        for i in range(len(self.buttons)):
            key = class_key(i)
            if key is None:
                continue

            def pick(*_: Any, _i: int = i) -> None:
                self.class_chosen.emit(_i)

            pick.__name__ = pick.__qualname__ = f"alges_class_{i}"
            try:
                viewer.bind_key(key, pick)
            except ValueError:
                continue
            self._keys.append(key)
        return list(self._keys)

    def unbind_keys(self, viewer: Any) -> list[str]:
        """Remove the bindings :meth:`bind_keys` made; the keys it removed."""
        keys, self._keys = self._keys, []
        for key in keys:
            viewer.bind_key(key, None)
        return keys
