"""Tiny test videos whose frames say their own number (shared by the video tests)."""

from __future__ import annotations

import av
import numpy as np


def write_numbered_video(
    path, n=47, codec="libx264", gop=10, h=64, w=96, bframes: int | None = None
) -> None:
    """Frame i shows i's bits as big black/white blocks, which survive compression.

    ``bframes``: the encoder's B-frame count (``bf``, with scene cuts off and the fastest
    preset); None leaves the codec's defaults.
    """
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=25)
    stream.width, stream.height, stream.pix_fmt, stream.gop_size = w, h, "yuv420p", gop
    if bframes is not None:
        stream.options = {"bf": str(bframes), "sc_threshold": "0", "preset": "ultrafast"}
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        for b in range(6):
            r, c = divmod(b, 3)
            img[r * 32 : r * 32 + 32, c * 32 : c * 32 + 32] = 255 * ((i >> b) & 1)
        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
