"""The model stack floor of benchmarks/bench_recording.py, measured in a fresh child process."""

from __future__ import annotations

import math
import sys

import pytest

BENCHMARK = "bench_recording"

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_floor_child_reports_every_stage_of_the_stack(bench) -> None:
    floor = bench.run_stack_floor((32, 64), steps=2)
    stages = [row["stage"] for row in floor["stages"]]
    assert stages == [
        "python", "import torch", "import smp", "model built",
        "training steps: 2", "one scoring batch (8 frames, no_grad)",
    ]  # fmt: skip
    for row in floor["stages"]:
        assert set(row) == {"stage", "VmRSS", "RssAnon", "RssFile", "VmHWM"}
        assert row["RssAnon"] + row["RssFile"] <= row["VmRSS"] + 1  # shmem is the rest
        assert row["VmRSS"] <= row["VmHWM"] + 1e-6
    peaks = [row["VmHWM"] for row in floor["stages"]]
    assert peaks == sorted(peaks)  # the peak so far never falls
    # torch and its libraries are well over 100 MB resident; the bare interpreter is not.
    assert floor["stages"][1]["VmRSS"] - floor["stages"][0]["VmRSS"] > 100
    assert math.isfinite(floor["step_s"]) and floor["step_s"] > 0
    assert floor["mallopt"] is None  # not asked for


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_malloc_thresholds_are_set_in_the_child_only(bench) -> None:
    floor = bench.run_stack_floor((32, 64), steps=1, malloc_mb=1)
    assert floor["mallopt"] is True
    assert [row["stage"] for row in floor["stages"]][-2] == "training steps: 1"


def test_the_floor_prints_one_line_per_stage(bench) -> None:
    floor = {"stages": [{"stage": "a", "VmRSS": 10.4, "VmHWM": 12.0}], "step_s": 0.25}
    assert bench.format_floor(floor) == "  a: VmRSS 10, VmHWM 12 MB\n  median training step 250 ms"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_the_trim_experiment_times_its_call(bench) -> None:
    spent = bench.trim_free_memory()
    assert spent is not None and 0 <= spent < 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_stage_peaks_keep_each_stage_s_peak_and_the_rss_it_began_at(bench) -> None:
    from types import SimpleNamespace

    peaks = bench.StagePeaks()
    peaks(SimpleNamespace(stage="train"))
    began = bench.rss_mb()
    held = bytearray(64 * 2**20)  # 64 MB touched inside "train"
    held[:: 4096] = b"\x01" * (len(held) // 4096)
    peaks(SimpleNamespace(stage="train"))  # the same stage: nothing is closed
    peaks(SimpleNamespace(stage="score"))
    del held
    peaks(SimpleNamespace(stage="train"))  # a stage that comes back keeps its first start
    out = peaks.finish()
    assert list(out) == ["train", "score"] and list(peaks.starts) == ["train", "score"]
    assert peaks.starts["train"] <= began + 1
    assert out["train"] >= peaks.starts["train"] + 60  # the 64 MB were in train's peak
    assert peaks.starts["score"] >= peaks.starts["train"] + 60
