"""One scoring pass against plain inference, in one process, on a kept project (issue 26).

Usage::

    taskset -c 1 env PYTHONPATH=TREE .venv/bin/python benchmarks/bench_pass.py PROJECT

``PROJECT``: a project with a trained model and a pool cache, e.g. the one
``bench_recording.py --keep DIR`` leaves in ``DIR``. Prints, for the project's unlabelled pool:

- plain inference (``bench_recording.plain_inference``: eager fp32 forward, batch 8, frames
  from the pool cache) followed per frame by nothing (``forward``), by the literal
  resize-then-argmax (``literal``) and by ``upscale.upscaled_argmax`` (``pass``, the pass's
  prediction);
- one scoring pass, ``ActiveLearningSession.rank`` (score and select, predictions and heat
  maps written to ``cache/``): its "score" time;
- their ratios and the 1-minute load average.

Run it with ``PYTHONPATH`` pointing at two trees in turn (before and after a change), on the
same project, alternately: the pass times compare directly; the ratios move with the load,
because each part runs minutes apart on a busy machine. It runs on trees where the engine is
an argument of the session (the README's A/B figures of 2026-12-02 were taken with its first
version, which set a process-wide engine and also ran on the tree before ``upscale``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_recording, beside this file

from bench_recording import plain_inference  # noqa: E402

#: The forward every part runs: eager, contiguous memory, as plain inference does.
ENGINE = "torch-contiguous"


def main() -> None:
    from alges_napari.core.learn.config import TrainConfig
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    proj = Project.open(Path(sys.argv[1]))
    try:
        size = TrainConfig.from_json(proj.config["train"]).input_size  # the pool cache's
        out = {}
        for how in ("forward", "literal", "pass"):
            out[how], n = plain_inference(proj, size, how)
        session = ActiveLearningSession(proj, device="cpu", engine=ENGINE)
        t0 = time.perf_counter()
        res = run_to_end(session.rank(RoundConfig(query_size=10)))
        score = res.timings.get("score", time.perf_counter() - t0)
    finally:
        proj.close()
    print(
        f"n={n} score={score:.1f}s",
        " ".join(f"plain[{m}]={v:.1f}s" for m, v in out.items()),
        " ".join(f"score/plain[{m}]={score / v:.2f}" for m, v in out.items()),
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
