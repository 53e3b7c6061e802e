"""benchmarks/surgeons_total.py (PROTOCOL part 3) on a tiny constructed experiment."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.core.data.endoscapes_tree import make_endoscapes

BENCHMARK = "surgeons_total"
#: 4 videos x 4 frames of train_seg (the pool), 2 frames of val_seg (the fixed test set).
POOL = tuple((v, f) for v in (3, 10, 21, 30) for f in (75, 150, 300, 450))


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """part 2 in miniature: random and alges-seg, 2 repeats, 2 rounds, every round model kept."""
    from alges_napari.core.experiment.config import SimulationConfig, paper_training
    from alges_napari.core.experiment.loop import simulate

    root = tmp_path_factory.mktemp("surgeons")
    make_endoscapes(root / "endo", {"train_seg": POOL, "val_seg": ((40, 75), (40, 150))})
    config = SimulationConfig(
        data=str(root / "endo/train_seg"), test_data=str(root / "endo/val_seg"),
        strategies=("random", "alges-seg"), init=2, query_size=2, rounds=2, repeats=2,
        full_pool=False,
        train=paper_training(epochs=1, batch_size=4, lr=1e-3, input_size=(64, 64)),
    )  # fmt: skip
    with pytest.warns(Warning):  # the reader's data report
        simulate(config, root / "exp", keep_models=["random", "alges-seg"])
    return root / "exp"


@pytest.fixture(scope="module")
def real(bench):
    """benchmarks/correction_real.py, the correctors surgeons_total imports."""
    return importlib.import_module("correction_real")


def args(bench, exp: Path, out: Path, *extra: str, dice: float = 10.0):
    return bench.parse_args(["--experiment", str(exp), "--full-pool-dice", str(dice),
                             "--out", str(out), *extra])  # fmt: skip


def read(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def results(exp: Path, strategy: str = "random") -> dict[int, list[dict]]:
    from alges_napari.core.experiment.curves import read_results

    rows = [r for r in read_results(exp) if r["strategy"] == strategy]
    return {r: sorted((x for x in rows if x["repeat"] == r), key=lambda x: x["round"])
            for r in sorted({x["repeat"] for x in rows})}  # fmt: skip


def labelled(exp: Path, repeat: int, strategy: str = "random") -> list[str]:
    state = exp / "state" / strategy / f"repeat_{repeat}" / "state.json"
    return json.loads(state.read_text())["labelled"]


def test_n_star_is_the_first_round_end_at_or_above_the_target(bench):
    rows = [{"round": 1, "n_labelled": 4, "mean_dice": 0.3},
            {"round": 0, "n_labelled": 2, "mean_dice": 0.1},
            {"round": 2, "n_labelled": 6, "mean_dice": 0.2}]  # fmt: skip
    assert bench.reach(rows, 0.3) == (1, 4)  # at the target counts
    assert bench.reach(rows, 0.15) == (1, 4)  # the first, not the best or the last
    assert bench.reach(rows, 0.05) == (0, 2)  # the initial model's round end
    assert bench.reach(rows, 0.31) == (None, 6)  # not reached: counts as the last labels
    assert bench.reach([{**r, "mean_dice": float("nan")} for r in rows], 0.0) == (None, 6)
    # the frames of each round follow the labelled order
    keys = ["a", "b", "c", "d", "e", "f"]
    assert bench.frame_rounds(keys, rows, 4) == [("a", 0), ("b", 0), ("c", 1), ("d", 1)]


def test_w0_is_corrector_e_from_empty_on_the_grid_and_frames_follow_n_star(
    bench, real, exp, tmp_path
):
    from alges_napari.core.data.frames import open_frames
    from alges_napari.core.learn.train import make_samples

    out = tmp_path / "reached.jsonl"
    bench.run(args(bench, exp, out, dice=0.0))  # the target 0 is reached at round 0: n* = init
    rows = read(out)
    for r in (0, 1):
        assert [x["key"] for x in rows if x["workflow"] == "W0" and x["repeat"] == r] == \
            labelled(exp, r)[:2]  # fmt: skip
    out = tmp_path / "unreached.jsonl"
    text = bench.run(args(bench, exp, out))  # 0.9 x 10 is never reached: all 6 labels
    assert "W0 repeat 0: not reached by 6 labels" in text
    rows = read(out)
    assert {x["workflow"] for x in rows} == {"W0", "W1"}  # default random: W2 is W1
    assert "W2 (the default strategy's frames) is W1" in text
    assert "floor 0.50 on the round before's mean_dice: 0 of 8 later-round frames prefilled" in text
    assert all(x["experiment"] == str(exp.resolve()) for x in rows)
    source = open_frames(str(exp.parent / "endo/train_seg"))
    keys = list(source.keys)
    for r in (0, 1):
        w0 = [x for x in rows if x["workflow"] == "W0" and x["repeat"] == r]
        assert [x["key"] for x in w0] == labelled(exp, r)
        assert [x["round"] for x in w0] == [0, 0, 1, 1, 2, 2]
        for x in w0[:3]:
            i = keys.index(x["key"])
            image = np.asarray(source[i])
            truth = make_samples([(image, source.ground_truth(i))], (64, 64)).masks[0].numpy()
            scale = float(np.sqrt(64 / image.shape[0] * 64 / image.shape[1]))
            e = real.greedy_correct(np.zeros((64, 64), np.uint8), truth.astype(np.uint8), 7,
                                    scale, min_area=real.min_area_on((64, 64)))  # fmt: skip
            assert x["start"] == "empty" and x["corrector"] == "e"
            assert x["actions"] == e["actions"] > 0
    total = sum(x["actions"] for x in rows if x["workflow"] == "W0" and x["repeat"] == 0)
    assert f"W0 repeat 0: not reached by 6 labels; {total} actions" in text
    assert text.splitlines()[-1].startswith("surgeon's total (W1 / W0): ")


def test_w1_prefills_from_the_round_before_unless_under_the_floor(bench, exp, tmp_path,
                                                                 monkeypatch):  # fmt: skip
    dice = results(exp)
    assert all(r["mean_dice"] < 0.5 for rs in dice.values() for r in rs)  # a tiny model
    used: list[tuple[str, list[str]]] = []
    real_predict = bench.predict

    def spy(checkpoint, frames):
        used.append((str(Path(checkpoint).relative_to(exp)), [f.key for f in frames]))
        preds = real_predict(checkpoint, frames)
        assert set(preds) == {f.key for f in frames}
        return {f.key: f.truth.copy() for f in frames}  # a perfect prediction: nothing to do

    monkeypatch.setattr(bench, "predict", spy)
    out = tmp_path / "floor.jsonl"
    bench.run(args(bench, exp, out))  # the product's floor 0.50: every frame starts empty
    assert used == []
    assert all(x["start"] == "empty" for x in read(out))
    assert all(x["corrector"] == "g" for x in read(out) if x["workflow"] == "W1")

    floor = dice[0][0]["mean_dice"]  # repeat 0's round 0 is exactly at the floor: prefilled
    out = tmp_path / "prefill.jsonl"
    bench.run(args(bench, exp, out), floor=floor)
    w1 = [x for x in read(out) if x["workflow"] == "W1"]
    for r in (0, 1):
        d = {x["round"]: x["mean_dice"] for x in dice[r]}
        for x in (x for x in w1 if x["repeat"] == r):
            prefilled = x["round"] >= 1 and d[x["round"] - 1] >= floor
            assert x["start"] == ("prediction" if prefilled else "empty"), x
            if prefilled:
                model = (f"state/repeat_{r}/round_0000.safetensors" if x["round"] == 1 else
                         f"state/random/repeat_{r}/round_{x['round'] - 1:04d}.safetensors")
                assert x["checkpoint"] == model and x["actions"] == 0
                assert any(m == model and x["key"] in keys for m, keys in used)
            else:
                assert x["actions"] > 0
    assert any(x["start"] == "prediction" for x in w1 if x["repeat"] == 0)
    assert all(m.startswith(("state/repeat_", "state/random/")) for m, _ in used)


def test_w2_on_the_default_strategy_and_resume_skips_finished_frames(bench, exp, tmp_path,
                                                                     monkeypatch):  # fmt: skip
    calls = []
    real_correct = bench.greedy_correct

    def counting(*a, **kw):
        calls.append(1)
        return real_correct(*a, **kw)

    monkeypatch.setattr(bench, "greedy_correct", counting)
    out = tmp_path / "w2.jsonl"
    first = bench.run(args(bench, exp, out, "--default-strategy", "Alges-Seg"))
    rows = read(out)
    assert len(calls) == len(rows) == 3 * 2 * 6
    for r in (0, 1):
        assert [x["key"] for x in rows if x["workflow"] == "W2" and x["repeat"] == r] == \
            labelled(exp, r, "alges-seg")  # fmt: skip
    assert "| W2 | alges-seg |" in first and "is W1" not in first
    calls.clear()
    assert bench.run(args(bench, exp, out, "--default-strategy", "alges-seg")) == first
    assert calls == []
    out.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:-3]))
    assert bench.run(args(bench, exp, out, "--default-strategy", "alges-seg")) == first
    assert len(calls) == 3 and len(read(out)) == len(rows)


def test_the_target_from_the_calibration_is_its_full_pool_2400_step_point(bench, exp, tmp_path,
                                                                          monkeypatch):  # fmt: skip
    run = "frames=all size=64x64 steps=2400 dice=1.0 lr=0.001 bs=8 enc=resnet18 aug=True seed=900"
    line = {"run": run, "frames": "all", "n_train": 16, "s_per_step": 1.0, "dice": [0.9] * 7}
    other = {**line, "run": run.replace("64x64", "128x224")}
    calibration = tmp_path / "runs.jsonl"
    calibration.write_text("".join(json.dumps(x) + "\n" for x in (
        {**line, "step": 1200, "mean_fg_present": 0.5},
        {**line, "step": 2400, "mean_fg_present": 0.25},
        {**other, "step": 2400, "mean_fg_present": 0.75})))  # fmt: skip
    assert bench.full_pool_from_calibration(calibration, (64, 64)) == 0.25
    targets = []

    def stop_at_the_arms(exp, strategy, target, rounds=None):  # the target is all this test needs
        targets.append(target)
        raise bench.InputError("stopped")

    monkeypatch.setattr(bench, "load_arms", stop_at_the_arms)
    assert bench.main(["--experiment", str(exp), "--calibration", str(calibration),
                       "--out", str(tmp_path / "c.jsonl")]) == 2  # fmt: skip
    assert targets == [pytest.approx(0.9 * 0.25)]  # at the experiment's 64x64
    with pytest.raises(bench.InputError, match="no full-pool 2400-step point at 32x32"):
        bench.full_pool_from_calibration(calibration, (32, 32))


def test_bad_input_is_one_line_and_exit_2(bench, exp, tmp_path, capsys):
    def fails(*argv: str) -> str:
        assert bench.main(list(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("surgeons_total: error: ")
        return err

    out = str(tmp_path / "o.jsonl")
    err = fails("--experiment", str(tmp_path / "none"), "--full-pool-dice", "1", "--out", out)
    assert "none: no such folder" in err
    err = fails("--experiment", str(exp), "--full-pool-dice", "1", "--out", out,
                "--default-strategy", "coreset")  # fmt: skip
    assert "'coreset'" in err and "random, alges-seg" in err
    bare = tmp_path / "bare"
    shutil.copytree(exp, bare)
    (bare / "state/random/repeat_0/round_0001.safetensors").unlink()  # run without keep-models
    err = fails("--experiment", str(bare), "--full-pool-dice", "10", "--out", out)
    assert "state/random/repeat_0/round_0001.safetensors: missing" in err
    assert "--keep-models random" in err
    config = json.loads((bare / "config.json").read_text())
    (bare / "config.json").write_text(json.dumps({**config, "rounds": 3}))
    arms = bench.load_arms(bare, "alges-seg", 9.0, rounds=3)  # a run that has not ended
    assert [a.unfinished for a in arms] == [True, True]
    assert not any(a.unfinished for a in bench.load_arms(exp, "alges-seg", 9.0, rounds=2))
    err = fails("--experiment", str(exp), "--calibration", str(tmp_path / "no.jsonl"),
                "--out", out)  # fmt: skip
    assert "no.jsonl" in err
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"experiment": "/elsewhere", "workflow": "W0", "repeat": 0,
                                 "key": "3/3_75", "actions": 1}) + "\n")  # fmt: skip
    err = fails("--experiment", str(exp), "--full-pool-dice", "10", "--out", str(other))
    assert "other.jsonl: holds results of another experiment (/elsewhere)" in err
    assert not Path(out).exists()
