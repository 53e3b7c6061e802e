"""Export buttons of the dock widget: the core exports of labels and model, in thread workers.

A mixin of :class:`~._widget.AlgesWidget`; it uses the widget's ``project``, ``export_format``
and ``_start_job``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_info
from qtpy.QtWidgets import QFileDialog

from alges_napari._qt.jobs import BackgroundJob
from alges_napari.core.progress import Progress


class ExportActions:
    """The "Export labels..." and "Export model..." actions."""

    def export_labels(self, out: str | Path, fmt: str = "index") -> BackgroundJob | None:
        """Export the accepted labels to a new folder ``out`` in a thread worker."""
        from alges_napari.core.project.export import export_labels

        return self._export(lambda project: export_labels(project, out, fmt), "labels")

    def export_model(self, out: str | Path) -> BackgroundJob | None:
        """Export the latest model to a new folder ``out`` in a thread worker."""
        from alges_napari.core.project.export import export_model

        return self._export(lambda project: export_model(project, out), "model")

    def _export(self, call: Any, what: str) -> BackgroundJob | None:
        project = self.project
        if project is None:
            return None

        def work(stop: Any) -> Any:
            yield Progress("export", 0, 1)
            return call(project)

        done = partial(lambda w, path: show_info(f"ALGES: {w} exported to {path}"), what)
        return self._start_job(work, done, name=f"export {what}")

    def _ask_export(self, what: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Folder to export the {what} into")
        if not folder:
            return
        out = Path(folder)
        if any(out.iterdir()):  # the export wants a new or empty folder: make one inside
            base = f"{self.project.root.name}_{what}"
            out = next(
                out / f"{base}{i or ''}"
                for i in range(1000)
                if not (out / f"{base}{i or ''}").exists()
            )
        if what == "labels":
            self.export_labels(out, self.export_format.currentText())
        else:
            self.export_model(out)
