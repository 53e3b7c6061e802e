"""Our k-means++ centre finding vs scikit-learn's ``kmeans_plusplus`` (the reference).

The issue asked to use sklearn's function if it gives the same picks at the same speed. This
prints, for pools of ALGES-seg-sized (13 columns) and BADGE-sized (13 x 16 x 9 columns)
embeddings, the median time of each over ``--runs`` interleaved runs and their ratio; whether
the picks agree on ordinary float64 data; and what each returns on degenerate embeddings (all
equal, mostly duplicates), where a selection must still return k distinct frames.

    .venv/bin/python benchmarks/bench_centres.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.cluster import kmeans_plusplus

from alges_napari.core.acquire.centres import kmeans_pp_centres


def timed(fn, *args) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def compare(n: int, d: int, k: int, runs: int) -> None:
    x = np.random.default_rng(0).random((n, d))
    ours, theirs, same = [], [], True
    for seed in range(runs):
        t, a = timed(kmeans_pp_centres, x, k, seed)
        ours.append(t)
        t, (_, b) = timed(lambda s=seed: kmeans_plusplus(x, k, random_state=s))
        theirs.append(t)
        same &= a.tolist() == b.tolist()
    o, s = statistics.median(ours), statistics.median(theirs)
    print(
        f"N={n:>6} D={d:>5} k={k:>3}: ours {o * 1e3:8.1f} ms, sklearn {s * 1e3:8.1f} ms, "
        f"ours/sklearn {o / s:5.2f}, same picks: {same}"
    )


def degenerate(k: int) -> None:
    cases = {
        "all rows equal (n=50)": np.ones((50, 13)),
        "all zero (n=50)": np.zeros((50, 13)),
        "5 distinct rows x 10 copies": np.repeat(np.eye(5, 13), 10, axis=0),
    }
    for name, x in cases.items():
        ours = kmeans_pp_centres(x, k, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, theirs = kmeans_plusplus(x, k, random_state=0)
        print(
            f"{name:>28}: ours {len(set(ours.tolist()))}/{k} distinct frames, "
            f"sklearn {len(set(theirs.tolist()))}/{k} distinct frames"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for n, d, k in [(2_000, 13, 10), (50_000, 13, 10), (2_000, 1872, 10), (20_000, 1872, 10)]:
        compare(n, d, k, args.runs)
    degenerate(10)


if __name__ == "__main__":
    main()
