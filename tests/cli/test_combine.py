"""``alges plot --results A --results B``: folders that ran one experiment with other seeds are
combined into one, and the combination equals the single run that did every repeat."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from alges_napari import cli
from alges_napari.core.errors import AlgesError
from alges_napari.core.experiment.combine import combine_results

TINY = ["--epochs", "1", "--batch-size", "4", "--input-size", "64", "64", "--threads", "1"]
#: Columns that hold wall-clock times: the only ones two identical runs may differ in.
TIMES = {"train_s", "select_s"}


def _simulate(tree: Path, out: Path, seed: int, repeats: int) -> None:
    args = ["simulate", "--data", str(tree), "--strategy", "random", "--init", "3"]
    args += ["--query-size", "2", "--rounds", "1", "--repeats", str(repeats), "--test-size", "0.25"]
    args += ["--no-full-pool", "--seed", str(seed), "--out", str(out), "--quiet", *TINY]
    assert cli.main(args) == 0


def _comparable(rows: list[dict]) -> list[dict]:
    return sorted(
        ({k: v for k, v in row.items() if k not in TIMES} for row in rows),
        key=lambda r: (r["strategy"], r["repeat"], r["round"]),
    )


def test_seeds_run_apart_combine_into_the_run_that_did_every_repeat(tree, tmp_path, capsys):
    from alges_napari.core.experiment.curves import read_results

    _simulate(tree, tmp_path / "s0", seed=0, repeats=1)
    _simulate(tree, tmp_path / "s1", seed=1, repeats=1)
    _simulate(tree, tmp_path / "both", seed=0, repeats=2)
    combined = combine_results([tmp_path / "s0", tmp_path / "s1"])
    assert {row["repeat"] for row in combined} == {0, 1}
    assert _comparable(combined) == _comparable(read_results(tmp_path / "both"))

    out = tmp_path / "summary"
    argv = ["plot", "--results", str(tmp_path / "s0"), "--results", str(tmp_path / "s1")]
    assert cli.main([*argv, "--out", str(out), "--quiet"]) == 0
    assert "| random | 2 |" in capsys.readouterr().out  # two repeats, one per folder
    with open(out / "summary.csv", newline="") as fh:
        assert [r["repeats"] for r in csv.DictReader(fh)] == ["2"]
    # several folders need --out, so no folder's own summary is overwritten by the combination
    assert cli.main(argv) != 0
    assert "--out is required" in capsys.readouterr().err


def _folder(root: Path, name: str, seed: int, lr: float = 1e-3, repeats=(0,)) -> Path:
    folder = root / name
    folder.mkdir()
    settings = {"seed": seed, "lr": lr, "repeats": len(repeats), "strategies": ["random"]}
    (folder / "config.json").write_text(json.dumps(settings))
    lines = ["strategy,repeat,round,n_labelled,mean_dice"]
    lines += [f"random,{r},0,10,0.5" for r in repeats]
    (folder / "results.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_combining_refuses_other_settings_overlaps_and_foreign_folders(tmp_path) -> None:
    a = _folder(tmp_path, "a", seed=0, repeats=(0, 1))
    with pytest.raises(AlgesError, match=r"lr: 0.001 in .*a vs 0.01 in .*b"):
        combine_results([a, _folder(tmp_path, "b", seed=2, lr=1e-2)])
    with pytest.raises(AlgesError, match=r"repeat seed 1 is in both .*a and .*c"):
        combine_results([a, _folder(tmp_path, "c", seed=1)])
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "results.csv").write_text("strategy,repeat,round,n_labelled,mean_dice\n")
    with pytest.raises(AlgesError, match=r"plain: config.json is unreadable"):
        combine_results([a, plain])
    rows = combine_results([a, _folder(tmp_path, "d", seed=2, repeats=(0, 1))])
    assert sorted(row["repeat"] for row in rows) == [0, 1, 2, 3]
