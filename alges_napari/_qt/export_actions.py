"""Export: the options panel, and the core exports of labels and model run in thread workers.

:class:`ExportPanel` is the "Export" row of the dock (a magicgui form of :func:`export_options`
and two buttons); :class:`ExportController` does the exports. The controller is handed what it
needs: a function returning the open project, a function starting a background job, and the
widget to parent its folder dialog on.
"""

# No `from __future__ import annotations`: magicgui reads the annotations of the form's
# signature at run time.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from magicgui import magicgui
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QFileDialog, QGridLayout, QInputDialog, QPushButton, QWidget

from alges_napari._qt.jobs import BackgroundJob, JobStarter
from alges_napari.core.progress import Progress

#: core.project.export.LABEL_FORMATS, written out: magicgui reads the choices at import time.
EXPORT_FORMATS = ("index", "cholecseg8k", "nnunet", "coco", "cvat-mask")
#: core.project.label_import.IMPORT_FORMATS.
IMPORT_FORMATS = ("masks", "coco", "cvat-mask", "nnunet")


def export_options(
    fmt: Annotated[str, {"choices": list(EXPORT_FORMATS), "label": "Format"}] = "index",
) -> str:
    """Options of a label export.

    Parameters
    ----------
    fmt : str
        index: one class-id PNG per frame; cholecseg8k: its tree (colour and watershed masks);
        nnunet: an nnU-Net v2 raw dataset (frames and labels, dataset.json); coco: COCO JSON
        with RLE segments; cvat-mask: CVAT's segmentation mask 1.1, to review in CVAT.
    """
    return fmt


class ExportPanel(QWidget):
    """The export format (a magicgui form) and the "Export labels..." / "Export model..." buttons.

    Attributes
    ----------
    options : magicgui.widgets.FunctionGui
        The form of :func:`export_options`; ``options.fmt.value`` is the label format.
    """

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.options = magicgui(export_options, call_button=False, labels=False)
        self.options.margins = (0, 0, 0, 0)
        self.labels_button = QPushButton("Export labels...")
        self.labels_button.setToolTip("Write the accepted labels into a new folder")
        self.model_button = QPushButton("Export model...")
        self.model_button.setToolTip("Write the latest round's model into a new folder")
        self.import_button = QPushButton("Import labels...")
        self.import_button.setToolTip(
            "Accept labels made elsewhere (image/mask folder, COCO, CVAT mask 1.1, nnU-Net), "
            "matched to the frames by name; frames already labelled keep their label"
        )
        # Two rows, format and exports, then the import: in one row the four set the dock's
        # width (its tab is no wider than the others), and took the canvas's on a laptop.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.options.native, 0, 0, 1, 2)
        grid.addWidget(self.labels_button, 1, 0)
        grid.addWidget(self.model_button, 1, 1)
        grid.addWidget(self.import_button, 2, 0)

    @property
    def format(self) -> str:
        """The chosen label format."""
        return self.options()


class ExportController:
    """The "Export labels..." and "Export model..." actions.

    Parameters
    ----------
    project : callable
        Returns the open project, or None.
    start_job : callable
        ``start_job(work, on_done, name=...)`` runs ``work(stop)`` in a thread worker
        (:func:`~alges_napari._qt.jobs.start_job` bound to the widget's resources).
    dialog_parent : QWidget
        Parent of the folder dialog.
    log : callable, optional
        Called with one line per finished or failed export, naming the folder in full (the
        Status panel's log); the toast only points there.
    """

    def __init__(
        self,
        project: Callable[[], Any],
        start_job: JobStarter,
        dialog_parent: QWidget,
        log: Callable[[str], Any] | None = None,
    ):
        self._project = project
        self._start_job = start_job
        self._dialog_parent = dialog_parent
        self._log = log or (lambda _text: None)

    def export_labels(self, out: str | Path, fmt: str = "index") -> BackgroundJob | None:
        """Export the accepted labels to a new folder ``out`` in a thread worker."""
        from alges_napari.core.project.export import export_labels

        return self._export(
            lambda project: export_labels(project, out, fmt), "labels", f"{fmt} format"
        )

    def export_model(self, out: str | Path) -> BackgroundJob | None:
        """Export the latest model to a new folder ``out`` in a thread worker."""
        from alges_napari.core.project.export import export_model

        return self._export(lambda project: export_model(project, out), "model")

    def _export(self, call: Callable[[Any], Any], what: str, how: str = "") -> BackgroundJob | None:
        project = self._project()
        if project is None:
            return None

        def work(stop: Any) -> Any:
            yield Progress("export", 0, 1)
            return call(project)

        def done(path: Any) -> None:
            self._log(
                f"{what.capitalize()} of {project.root.name} exported to {path}"
                + (f" ({how})" if how else "")
            )
            show_info(f"ALGES: {what} exported (see Status)")

        def failed(exc: BaseException) -> None:  # the job's own toast says it failed
            self._log(f"Export of the {what} of {project.root.name} failed: {exc}")

        return self._start_job(work, done, name=f"export {what}", on_error=failed)

    def ask_and_export(self, what: str, fmt: str = "index") -> BackgroundJob | None:
        """Ask for a folder, then export the ``what`` ("labels" or "model") into it.

        The export wants a new or empty folder: inside a non-empty one, a new sub-folder named
        after the project is made.
        """
        project = self._project()
        if project is None:
            return None
        title = f"Folder to export the {what} into"
        folder = QFileDialog.getExistingDirectory(self._dialog_parent, title)
        if not folder:
            return None
        out = Path(folder)
        if any(out.iterdir()):
            base = f"{project.root.name}_{what}"
            out = next(
                out / f"{base}{i or ''}"
                for i in range(1000)
                if not (out / f"{base}{i or ''}").exists()
            )
        if what == "labels":
            return self.export_labels(out, fmt)
        return self.export_model(out)

    # ------------------------------------------------------------ import

    def import_labels(self, fmt: str, path: str | Path) -> BackgroundJob | None:
        """Import the labels at ``path`` (format ``fmt``) as accepted labels, in a thread worker.

        Frames that already have an accepted label keep it (the widget never replaces one;
        ``alges import --overwrite`` does). The report goes to the Status log, line by line.
        """
        from alges_napari.core.project.label_import import import_labels

        project = self._project()
        if project is None:
            return None

        def work(stop: Any) -> Any:
            yield Progress("import", 0, 1)
            return import_labels(project, fmt, path)

        # The Status panel's log where the dock hands one over (committed apart from this).
        log = getattr(self, "_log", None) or (lambda _text: None)

        def done(report: Any) -> None:
            lines = report.lines()
            log(f"Import of {fmt} labels from {path}: " + lines[0])
            for line in lines[1:]:
                log(line.strip())
            shown = show_info if report.complete else show_warning
            shown(f"ALGES: {lines[0]} (see Status)")

        def failed(exc: BaseException) -> None:
            log(f"Import of {fmt} labels from {path} failed: {exc}")

        return self._start_job(work, done, name="import labels", on_error=failed)

    def ask_and_import(self) -> BackgroundJob | None:
        """Ask for the labels' format, then their folder (COCO: the JSON file), and import."""
        if self._project() is None:
            return None
        parent = self._dialog_parent
        fmt, ok = QInputDialog.getItem(
            parent, "Import labels", "Format of the labels:", list(IMPORT_FORMATS), 0, False
        )
        if not ok:
            return None
        if fmt == "coco":
            path, _ = QFileDialog.getOpenFileName(parent, "COCO file", "", "COCO JSON (*.json)")
        else:
            path = QFileDialog.getExistingDirectory(parent, f"Folder of the {fmt} labels")
        return self.import_labels(fmt, path) if path else None
