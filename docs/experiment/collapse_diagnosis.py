"""Why did alges-seg-video's Dice collapse to about 0.50 in 2 of its 20 trainings? (issue 13)

Retrain the very frames it had labelled at those two steps (repeat 0 round 1, 20 labels; repeat 1
round 4, 50 labels) with the original training seed and two others, and test on the same test
videos. If the same frames give an ordinary Dice, the collapse came from training, not from the
frames the strategy picked.

    python docs/experiment/collapse_diagnosis.py RUN_FOLDER   # the folder of alges simulate --out

Run here with 1 thread (the experiment used 2, so floating-point sums run in another order):
see collapse_diagnosis.txt.
"""

import json
import sys
from pathlib import Path

import torch

from alges_napari.core.experiment.config import SimulationConfig
from alges_napari.core.experiment.pool import Runner, load_pool
from alges_napari.core.progress import run_to_end

run = Path(sys.argv[1] if len(sys.argv) > 1 else "run")
torch.set_num_threads(1)
cfg = SimulationConfig.from_json(json.loads((run / "config.json").read_text()))
runner = Runner(run_to_end(load_pool(cfg)), cfg, torch.device("cpu"))
for repeat, rnd, n in [(0, 1, 20), (1, 4, 50)]:  # (repeat, round, labels) of the two collapses
    split = json.loads((run / f"state/repeat_{repeat}/split.json").read_text())
    state = json.loads((run / f"state/alges-seg-video/repeat_{repeat}/state.json").read_text())
    labelled = state["labelled"][:n]  # initial frames, then each round's picks in order
    original = (cfg.seed + repeat) * 1000 + rnd  # the round's training seed in the experiment
    for seed in (original, original + 500, original + 777):
        model, _ = run_to_end(runner.train(labelled, seed, None, None))
        m = run_to_end(runner.evaluate(model, split["test"], None))
        tag = " (original)" if seed == original else ""
        print(
            f"repeat {repeat} round {rnd} labels {n} seed {seed}{tag}: "
            f"mean_dice {m['mean_dice']:.3f} background {m['dice_black_background']:.3f} "
            f"wall {m['dice_abdominal_wall']:.3f}",
            flush=True,
        )
