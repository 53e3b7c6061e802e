"""Experiment folders written with the old spelling (``n_labeled``, ``labeled``) still read,
resume and plot: the names took one spelling, "labelled", everywhere."""

from __future__ import annotations

import json

from alges_napari.core.experiment.curves import read_results
from alges_napari.core.experiment.spelling import respell, respell_header
from alges_napari.core.experiment.store import ExperimentStore

NEW_COLUMNS = ["strategy", "repeat", "round", "n_labelled", "mean_dice"]
OLD_HEADER = "strategy,repeat,round,n_labeled,mean_dice\r\n"
OLD_ROWS = "random,0,0,4,0.500000\r\nrandom,0,1,6,0.625000\r\n"


def test_respell_renames_old_keys_at_any_depth() -> None:
    old = {"round": 1, "labeled": ["a", "b"], "rows": [{"n_labeled": 2, "mean_dice": 0.5}]}
    assert respell(old) == {"round": 1, "labelled": ["a", "b"],
                            "rows": [{"n_labelled": 2, "mean_dice": 0.5}]}
    # a key under both names keeps the new one's value; other values pass untouched
    assert respell({"labeled": [1], "labelled": [2]}) == {"labelled": [2]}
    assert respell([1, "labeled", None]) == [1, "labeled", None]
    assert respell_header(["strategy", "n_labeled", "final_n_labeled"]) == [
        "strategy", "n_labelled", "final_n_labelled"]


def test_old_results_read_with_the_new_names(tmp_path) -> None:
    (tmp_path / "results.csv").write_text(OLD_HEADER + OLD_ROWS)
    rows = read_results(tmp_path)
    assert [(r["round"], r["n_labelled"], r["mean_dice"]) for r in rows] == [(0, 4, 0.5),
                                                                              (1, 6, 0.625)]
    assert all("n_labeled" not in r for r in rows)


def test_an_old_experiment_resumes_its_csv_and_state(tmp_path) -> None:
    (tmp_path / "results.csv").write_bytes((OLD_HEADER + OLD_ROWS).encode())
    state = tmp_path / "state" / "random" / "repeat_0"
    state.mkdir(parents=True)
    rows = [{"strategy": "random", "repeat": 0, "round": r, "n_labeled": n, "mean_dice": d}
            for r, n, d in ((0, 4, 0.5), (1, 6, 0.625), (2, 8, 0.75))]
    (state / "state.json").write_text(json.dumps(
        {"round": 2, "labeled": list("abcdefgh"), "checkpoint": None, "rows": rows}))
    store = ExperimentStore(tmp_path, NEW_COLUMNS)
    store.open({"data": "x"})
    text = (tmp_path / "results.csv").read_bytes().decode()
    assert text == "strategy,repeat,round,n_labelled,mean_dice\r\n" + OLD_ROWS  # rows untouched
    assert store.load_state("random", 0)["labelled"] == list("abcdefgh")
    assert store.reconcile() == 1  # round 2 was in the state file only
    assert [r["n_labelled"] for r in read_results(tmp_path)] == [4, 6, 8]
