"""One scoring pass against plain inference, in one process, on a kept project (issue 26).

Usage::

    taskset -c 1 env PYTHONPATH=TREE .venv/bin/python benchmarks/bench_pass.py PROJECT

``PROJECT``: a project with a trained model and a pool cache, e.g. the one
``bench_recording.py --keep DIR`` leaves in ``DIR``. Prints, for the project's unlabelled pool:

- plain inference (eager fp32 forward, batch 8, frames from the pool cache) followed per frame
  by nothing (``none``), by the literal resize-then-argmax (``literal``) and, where the tree has
  it, by ``upscale.upscaled_argmax`` (the pass's prediction);
- one scoring pass, ``ActiveLearningSession.rank`` (score and select, predictions and heat
  maps written to ``cache/``): its "score" time;
- their ratios and the 1-minute load average.

Run it with ``PYTHONPATH`` pointing at two trees in turn (before and after a change), on the
same project, alternately: the pass times compare directly; the ratios move with the load,
because each part runs minutes apart on a busy machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def plain(proj, how: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Seconds of plain inference over the unlabelled pool, followed per frame by ``how``."""
    from alges_napari.core.learn.model import load_checkpoint, preprocess
    from alges_napari.core.project.pool_cache import PoolCache

    model, spec, _ = load_checkpoint(proj.latest_checkpoint(), device="cpu")
    model.eval()
    rows = PoolCache(proj.root, proj.frames, spec.input_size).open()
    pool = np.stack([rows[proj.frames.index_of(k)] for k in proj.unlabelled_keys()])
    rows.close()
    size = proj.frames.shape
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(pool), 8):
            logits = model(preprocess(pool[s : s + 8], spec))
            for one in logits:
                if how == "literal":
                    F.interpolate(one[None], size=size, mode="bilinear").argmax(dim=1)
                elif how == "upscaled_argmax":
                    from alges_napari.core.acquire.upscale import upscaled_argmax

                    upscaled_argmax(one, size)
    return time.perf_counter() - t0, len(pool)


def main() -> None:
    from alges_napari.core.learn.engine import set_engine
    from alges_napari.core.progress import run_to_end
    from alges_napari.core.project.project import Project
    from alges_napari.core.session import ActiveLearningSession, RoundConfig

    set_engine("torch-contiguous")
    try:
        import alges_napari.core.acquire.upscale  # noqa: F401

        modes, tree = ["none", "literal", "upscaled_argmax"], "new"
    except ImportError:
        modes, tree = ["none", "literal"], "old"
    proj = Project.open(Path(sys.argv[1]))
    try:
        out = {}
        for m in modes:
            out[m], n = plain(proj, m)
        session = ActiveLearningSession(proj, device="cpu")
        t0 = time.perf_counter()
        res = run_to_end(session.rank(RoundConfig(query_size=10)))
        score = res.timings.get("score", time.perf_counter() - t0)
    finally:
        proj.close()
    print(
        tree,
        f"n={n} score={score:.1f}s",
        " ".join(f"plain[{m}]={v:.1f}s" for m, v in out.items()),
        " ".join(f"score/plain[{m}]={score / v:.2f}" for m, v in out.items()),
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
