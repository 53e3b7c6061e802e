"""Tiny constructed data sets in the Endoscapes and paired layouts (shared by the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

H, W = 48, 64
#: (video, frame) of each constructed frame: 3 videos x 2 frames, numbers chosen so that text
#: order and numeric order differ (video 10 after 3; frame 1050 after 300).
FRAMES = ((3, 300), (3, 1050), (10, 75), (10, 825), (21, 150), (21, 900))
#: seg_label_map.txt as the shared copy writes it (``name id``).
OFFICIAL_NAMES = ("background", "cystic_plate", "calot_triangle", "cystic_artery", "cystic_duct",
                  "gallbladder", "tool")  # fmt: skip
LABEL_MAP = "".join(f"{n} {i}\n" for i, n in enumerate(OFFICIAL_NAMES))


def frame_image(video: int, frame: int) -> np.ndarray:
    """A frame that is never all black (the level depends on the name)."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 40 + video
    img[..., 1] = (frame // 75) % 200 + 20
    img[8:20, 8:30] = 200
    return img


def frame_mask(video: int, frame: int) -> np.ndarray:
    """Class ids 0..6 in bands that depend on the name, every class present."""
    mask = np.zeros((H, W), np.uint8)
    for c in range(1, 7):
        mask[(c - 1) * 7 : (c - 1) * 7 + 5, (video + frame // 75) % 20 :] = c
    return mask


def save_mask(path: Path, mask: np.ndarray) -> None:
    """Save class ids as Endoscapes does: an RGB PNG with three equal channels."""
    Image.fromarray(np.dstack([mask] * 3)).save(path)


def make_endoscapes(
    root: Path,
    splits: dict[str, tuple[tuple[int, int], ...]] | None = None,
    label_map: str | None = LABEL_MAP,
) -> Path:
    """Write an Endoscapes root: ``<split>/<v>_<f>.jpg``, ``semseg/<v>_<f>.png``, label map.

    Frames are saved as PNG-compressed JPEG at quality 95; their masks as 3-channel PNGs.
    """
    splits = splits if splits is not None else {"train_seg": FRAMES}
    (root / "semseg").mkdir(parents=True)
    for split, frames in splits.items():
        (root / split).mkdir()
        for v, f in frames:
            Image.fromarray(frame_image(v, f)).save(root / split / f"{v}_{f}.jpg", quality=95)
            save_mask(root / "semseg" / f"{v}_{f}.png", frame_mask(v, f))
    if label_map is not None:
        (root / "seg_label_map.txt").write_text(label_map)
    return root
