"""``python -m alges_napari.core.data.synthetic``: the default clips, or a preset's tree.

Without ``--preset`` (or with ``--preset clips``) the command is exactly the default
generator's (:func:`.clips.main`), so existing commands and the sample data keep their bytes;
``--preset benchmark`` writes a benchmark tree (:func:`.benchmark.main`).
"""

from __future__ import annotations

import argparse

from alges_napari.core.data.synthetic import benchmark, clips
from alges_napari.core.data.synthetic.preset import PRESETS


def main(argv: list[str] | None = None) -> int:
    """Dispatch on ``--preset``; every other argument goes to the chosen command."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", choices=["clips", *PRESETS], default="clips")
    known, rest = pre.parse_known_args(argv)
    if known.preset == "clips":
        return clips.main(rest)
    return benchmark.main(rest, preset_name=known.preset)
