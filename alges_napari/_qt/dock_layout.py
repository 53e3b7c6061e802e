"""How the dock's panels are laid out: the labelling loop always in view, the rest in tabs.

A surgeon's hands are on the queue, Next / Accept and Retrain all session; the settings, the
status and the exports are looked at now and then. So, top to bottom:

- **Project** (the new-project fields, or one line with Close once a project is open);
- **Annotate**, always in view: the frame line, the queue (it takes the height to spare),
  Next / Accept / Skip, and Retrain and rank with its progress line;
- **tabs**: *Correct* (class palette, superpixel painting, prediction / heat map / validation
  switches), *Propagate* (carry an accepted label to the neighbouring frames), *Learn* (the
  round settings), *Status* (counts, the log of rounds and exports, pixels, effort, the Dice
  history; it scrolls on its own), *Export*.

Tabs rather than collapsible sections: one click shows a page, nothing moves below it, and the
dock's height never changes, so the frame on the canvas is never re-laid out by an open or a
close. The whole fits a 1366x768 screen; a smaller one scrolls the dock as a last resort.
A line added to the log while the Status tab is hidden marks the tab ("Status *") until it is
opened: the round's toast points there.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QGroupBox, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from alges_napari._qt.window_fit import FrameRefit, grow_window_soon

#: The tabs, in order.
TABS = ("Correct", "Propagate", "Learn", "Status", "Export")
#: The Status tab's title while it holds log lines not seen yet.
STATUS_NEW = "Status *"


def group(title: str, *panels: QWidget) -> QGroupBox:
    """A titled box holding ``panels`` one under the other (the first one stretches)."""
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    for i, panel in enumerate(panels):
        layout.addWidget(panel, 1 if i == 0 else 0)
    return box


class _NoHeightForWidth(QVBoxLayout):
    """A column whose height does not follow its width.

    A resizable ``QScrollArea`` gives a widget whose layout has height-for-width (any
    word-wrapped label inside makes it so) its *preferred* height for the width, not its
    minimum: the dock then scrolled on a 1366x768 screen although everything fitted.
    """

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return False


def _scrolling(panel: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(panel)
    return area


class DockLayout:
    """Lays the dock's panels out in ``owner`` (see the module) and keeps its width fitted.

    Parameters
    ----------
    owner : QWidget
        The dock widget; gets a scroll area holding everything.
    form, annotate, propagate, learn, status, export : QWidget
        The panels (``annotate`` has ``loop`` and ``tools``; ``learn`` has ``form_box`` and
        ``run_box``; ``status`` has ``log``).

    Attributes
    ----------
    tabs : QTabWidget
        Correct, Propagate, Learn, Status, Export (:data:`TABS`).
    """

    def __init__(
        self,
        owner: QWidget,
        form: QWidget,
        annotate: Any,
        propagate: QWidget,
        learn: Any,
        status: Any,
        export: QWidget,
    ):
        self._owner = owner
        self._refit: FrameRefit | None = None  # made once the dock is in its window
        pages = {
            "Correct": self._padded(annotate.tools),
            "Propagate": self._padded(propagate),
            "Learn": self._padded(learn.form_box),
            "Status": _scrolling(self._padded(status)),
            "Export": self._padded(export),
        }
        self.tabs = QTabWidget()
        for title in TABS:
            self.tabs.addTab(pages[title], title)
        self._status_index = TABS.index("Status")
        self.tabs.currentChanged.connect(self._seen)
        status.log.textChanged.connect(self._new_log_line)

        body = QWidget()
        column = _NoHeightForWidth(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(group("Project", form))
        column.addWidget(group("Annotate", annotate.loop, learn.run_box), 1)
        column.addWidget(self.tabs)
        scroll = _scrolling(body)
        outer = QVBoxLayout(owner)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._scroll, self._body = scroll, body
        self.fit_width()

    @staticmethod
    def _padded(panel: QWidget) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(panel)
        layout.addStretch(1)
        return page

    def show_tab(self, title: str) -> None:
        """Bring tab ``title`` (one of :data:`TABS`) to the front."""
        self.tabs.setCurrentIndex(TABS.index(title))

    def _new_log_line(self) -> None:
        if self.tabs.currentIndex() != self._status_index:
            self.tabs.setTabText(self._status_index, STATUS_NEW)

    def _seen(self, index: int) -> None:
        if index == self._status_index:
            self.tabs.setTabText(index, "Status")

    def shown(self, viewer: Any) -> None:
        """The dock was shown: fit its width; grow the window and fit the frame (once).

        From then on the frame is refitted whenever the canvas area changes size (a panel
        widens, a dock moves) while the camera is still fitted (:class:`FrameRefit`, watching
        the main window's central widget, Qt's ``QMainWindow.centralWidget``).
        """
        self.fit_width()
        central = getattr(self._owner.window(), "centralWidget", lambda: None)()
        if self._refit is None and central is not None:
            self._refit = FrameRefit(viewer, central)
            grow_window_soon(viewer, self.remember_fit)

    def remember_fit(self) -> None:
        """The camera was just fitted: refit after canvas resizes until the user moves it."""
        if self._refit is not None:
            self._refit.remember_fit()

    def fit_width(self) -> None:
        """As wide as the panels' content (styles change it once shown), plus the scroll bar:
        the dock never clips its right-hand side."""
        bar = self._scroll.verticalScrollBar().sizeHint().width()
        self._owner.setMinimumWidth(max(400, self._body.minimumSizeHint().width() + bar + 6))
