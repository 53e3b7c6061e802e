"""The queue column says what it means for every strategy (issue 25), in a real viewer."""

from __future__ import annotations

import numpy as np

from alges_napari._qt.queue_view import INFO_HEADER_TIP, QueueTable
from alges_napari.core.acquire.scores import MEASURES, ScoreResult
from alges_napari.core.acquire.step import rank_queue
from alges_napari.core.acquire.strategies import get_strategy

KEYS = [f"v/frame_{i}" for i in range(30)]


def shown(table: QueueTable) -> list[tuple[str, str, str]]:
    return [
        (table.item(r, 0).text(), table.item(r, 2).text(), table.item(r, 2).toolTip())
        for r in range(table.rowCount())
    ]


def test_alges_seg_rows_show_gradient_mass_in_pick_order(qtbot) -> None:
    emb = np.random.default_rng(3).random((30, 5)) * 1e5
    alges_seg = get_strategy("alges-seg")
    entries = rank_queue(alges_seg, ScoreResult(n=30, emb_seg=emb), KEYS, 5, seed=0)
    table = QueueTable()
    qtbot.addWidget(table)
    table.set_entries(entries, lambda k: "unlabelled", "alges-seg")
    assert table.horizontalHeaderItem(2).text() == "informative"
    assert table.horizontalHeaderItem(2).toolTip() == INFO_HEADER_TIP
    mass = emb.sum(axis=1)
    for row, (rank, text, tip) in enumerate(shown(table)):
        frame = KEYS.index(entries[row].key)
        assert rank == str(row + 1)  # the pick order
        assert text == f"{100 * mass[frame] / mass.max():.0f}"  # of the pool's most informative
        assert f"alges-seg pick #{row + 1}" in tip and "not sorted" in tip
        assert f"gradient mass {mass[frame]:,.6g}" in tip and MEASURES["gradient mass"] in tip
        assert "k-means++ D^2" in tip


def test_random_and_the_first_spread_say_how_they_picked(project_widget, qtbot) -> None:
    widget, _viewer = project_widget
    table = widget.annotate.queue
    first = shown(table)  # the new project's first queue, before any model
    assert first and all(text == "spread" for _, text, _ in first)
    assert first[1][2].startswith("spread pick #2:")

    emb = np.random.default_rng(4).random((30, 5))
    random = get_strategy("random")
    with_mass = rank_queue(random, ScoreResult(n=30, emb_seg=emb), KEYS, 3, seed=1)
    table.set_entries(with_mass, lambda k: "unlabelled", "random")
    mass = emb.sum(axis=1)
    for row, (_, text, tip) in enumerate(shown(table)):
        frame = KEYS.index(with_mass[row].key)
        assert text == f"{100 * mass[frame] / mass.max():.0f}"
        assert tip.startswith(f"random pick #{row + 1}: drawn uniformly")
        assert "did not use it" in tip
    bare = rank_queue(random, ScoreResult(n=30), KEYS, 3, seed=1)
    table.set_entries(bare, lambda k: "unlabelled", "random")
    assert [text for _, text, _ in shown(table)] == ["random"] * 3
