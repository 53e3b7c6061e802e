"""Fixtures of the core tests: a new project (``project``), made the way ``mark.project`` says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alges_napari.core.project.project import Project
from tests.core.project.random_frames import make_folder


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    """A new project in ``tmp_path / "proj"``, closed after the test.

    ``pytest.mark.project(...)`` on the module or the test says what it holds (keywords only):

    - ``frames``: ``"folder"`` (default) for ``n_frames`` random PNG frames (default 6) written
      to ``tmp_path / "frames"`` by :func:`~tests.core.project.random_frames.make_folder`, or the
      name of a fixture whose value is the frames (a path or a frame source), e.g. ``"tree"``.
    - ``labels``: indices of frames accepted at once with their ground truth as label.
    - ``validation``: index of a frame set aside for validation (after the labels).
    - Any other keyword is an option of :meth:`Project.create` (``input_size``, ``epochs``, ...).
    """
    mark = request.node.get_closest_marker("project")
    if mark and mark.args:
        raise pytest.UsageError("pytest.mark.project takes keywords only")
    options = dict(mark.kwargs) if mark else {}
    frames, n_frames = options.pop("frames", "folder"), options.pop("n_frames", 6)
    labels, validation = options.pop("labels", ()), options.pop("validation", None)
    if frames == "folder":
        source = make_folder(tmp_path / "frames", n=n_frames)
    else:
        source = request.getfixturevalue(frames)
    proj = Project.create(tmp_path / "proj", source, **options)
    try:
        for i in labels:
            proj.accept_label(proj.keys[i], proj.frames.ground_truth(i))
        if validation is not None:
            proj.set_validation(proj.keys[validation])
        yield proj
    finally:
        proj.close()
