"""Short windows of video: frames that are near-duplicates of each other.

Neighbouring frames of a surgical video (25 fps) look alike, so labelling two frames of one
short window teaches a model little more than labelling one. A window is a run of ``window``
consecutive frame numbers inside one clip (the key's folder): CholecSeg8k keys
``videoXX/videoXX_<start>/frame_<n>_endo`` give clip ``videoXX/videoXX_<start>`` and frame n,
video keys ``<stem>/f000123`` give clip ``<stem>`` and frame 123. Keys without a frame number
count as one window per key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

#: A CholecSeg8k clip: 80 consecutive frames, 3.2 s at 25 fps.
DEFAULT_WINDOW = 80

_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_windows(keys: Sequence[str], window: int = DEFAULT_WINDOW) -> np.ndarray:
    """An int id per key; keys share an id when they lie in one window of one clip.

    Windows start at the clip's lowest frame number, so an 80-frame CholecSeg8k clip is one
    window whatever its first frame's number.

    Parameters
    ----------
    keys : sequence of str
        Frame keys.
    window : int
        Window length in frames (>= 1).

    Returns
    -------
    ndarray of int64, shape (len(keys),)
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    parsed: list[tuple[str, int | None]] = []
    for key in keys:
        clip, _, name = key.rpartition("/")
        match = _NUMBER.search(name)
        parsed.append((clip, int(match.group(1)) if match else None))
    first: dict[str, int] = {}
    for clip, number in parsed:
        if number is not None:
            first[clip] = min(first.get(clip, number), number)
    ids: dict[tuple[str, int | str], int] = {}
    out = np.empty(len(keys), dtype=np.int64)
    for i, (clip, number) in enumerate(parsed):
        label = (clip, (number - first[clip]) // window) if number is not None else ("", keys[i])
        out[i] = ids.setdefault(label, len(ids))
    return out
