"""The checks every command and form runs before any work (core/validate.py)."""

from __future__ import annotations

import pytest

from alges_napari.core import validate
from alges_napari.core.acquire.strategies import get_strategy
from alges_napari.core.errors import AlgesError
from alges_napari.core.session import RoundConfig


def test_round_configs_are_checked_field_by_field() -> None:
    strategy = validate.resolve_strategy("ALGES_SEG")
    assert strategy is get_strategy("alges-seg")
    validate.check_round_config(RoundConfig(strategy=strategy, epochs=None, seed=0))
    for bad, message in [
        (RoundConfig(query_size=0), "query size) must be at least 1, got 0"),
        (RoundConfig(batch_size=0), "batch size must be at least 1, got 0"),
        (RoundConfig(candidates=0), "candidates must be at least 1, got 0"),
        (RoundConfig(seed=-1), "seed must be at least 0, got -1"),
        (RoundConfig(epochs=2.5), "epochs must be a whole number, got 2.5"),
        (RoundConfig(query_size=True), "must be a whole number, got True"),
        (RoundConfig(warm_start="yes"), "warm start must be true or false, got 'yes'"),
    ]:
        with pytest.raises(AlgesError, match=None) as info:
            validate.check_round_config(bad)
        assert message in str(info.value)


def test_a_bad_strategy_name_fails_at_the_edge_naming_it() -> None:
    with pytest.raises(AlgesError) as info:
        validate.resolve_strategy("alges")
    assert "unknown selection strategy 'alges' (did you mean 'alges-seg'?)" in str(info.value)
    # A name handed down unresolved is refused where it enters the round, naming it.
    with pytest.raises(AlgesError) as info:
        RoundConfig(strategy="alges-seg")  # type: ignore[arg-type]
    assert "must be a Strategy, got 'alges-seg'" in str(info.value)
    assert "get_strategy" in str(info.value)


def test_the_engine_default_is_read_from_the_environment_at_the_edge_only() -> None:
    assert validate.engine_from_env({}) is None  # unset: auto
    assert validate.engine_from_env({"ALGES_ENGINE": ""}) is None
    assert validate.engine_from_env({"ALGES_ENGINE": "torch"}) == "torch"
    assert validate.engine_from_env({"ALGES_ENGINE": "onnx"}) == "onnx"
    with pytest.raises(AlgesError) as info:
        validate.engine_from_env({"ALGES_ENGINE": "onx"})
    assert "$ALGES_ENGINE='onx' is not an engine (did you mean 'onnx'?)" in str(info.value)
    assert validate.check_engine(None) is None  # no choice: nothing read, auto
    assert validate.check_engine("torch") == "torch"
    with pytest.raises(AlgesError, match="unknown engine 'fast'"):
        validate.check_engine("fast")


def test_sizes_name_the_nearest_valid_size() -> None:
    assert validate.check_size("--input-size", [64, 96]) == (64, 96)
    assert validate.check_size("--input-size", None) is None
    with pytest.raises(AlgesError, match=r"--input-size 100 200 .*\(did you mean 96 192\?\)"):
        validate.check_size("--input-size", [100, 200])
    with pytest.raises(AlgesError, match="--input-size 64 must be two multiples of 32"):
        validate.check_size("--input-size", [64])


def test_devices_are_parsed_and_checked_against_this_machine(monkeypatch) -> None:
    import torch

    assert validate.check_device(None) is None
    assert validate.check_device(" CPU ") == "cpu"
    with pytest.raises(AlgesError, match="unknown device 'cude' \\(did you mean 'cuda'\\?\\)"):
        validate.check_device("cude")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert validate.check_device("cuda:1") == "cuda:1"
    with pytest.raises(AlgesError, match="has 2 CUDA GPU\\(s\\), cuda:0 to cuda:1"):
        validate.check_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AlgesError, match="device 'cuda': .*use cpu"):
        validate.check_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(AlgesError, match="MPS is not available here"):
        validate.check_device("mps")


def test_paths_name_a_near_file(tmp_path) -> None:
    (tmp_path / "frames").mkdir()
    with pytest.raises(AlgesError, match=f"does not exist \\(did you mean {tmp_path / 'frames'}"):
        validate.check_exists("--data", tmp_path / "frame")
    assert validate.check_new_folder("--out", tmp_path / "new") == tmp_path / "new"
    (tmp_path / "frames" / "a.png").write_bytes(b"")
    with pytest.raises(AlgesError, match="exists and is not an empty folder"):
        validate.check_new_folder("--out", tmp_path / "frames")
    with pytest.raises(AlgesError, match="is not an alges project"):
        validate.check_project(tmp_path / "frames")
