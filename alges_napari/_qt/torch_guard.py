"""Import the model stack safely inside a napari process.

Measured here (Linux, Xvfb, Mesa llvmpipe, torch 2.14 CUDA wheels): once napari has created its
OpenGL context, Mesa's ``libLLVM`` is loaded, and the first ``import triton`` (pulled in by
``segmentation_models_pytorch`` -> ``torchvision.ops`` -> ``torch._dynamo``) crashes the whole
process with a segmentation fault, in any thread: two LLVM copies clash. The same import before
the viewer exists works. Mesa drivers that use LLVM (llvmpipe, AMD's radeonsi) are common on
Linux desktops and remote sessions, so the widget cannot rely on import order.

:func:`prepare_model_stack` therefore blocks the ``triton`` import, *only* when triton is not
loaded yet and a ``libLLVM`` is already mapped into the process; torch then runs without triton
(eager mode, which is all alges-napari uses). It also imports the stack in the GUI thread once,
so a round's worker thread never spends its first seconds importing with the GIL held.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def llvm_loaded() -> bool:
    """True when a shared ``libLLVM`` is mapped into this process (Linux; False elsewhere)."""
    try:
        return "libLLVM" in Path("/proc/self/maps").read_text(errors="replace")
    except OSError:
        return False


def prepare_model_stack() -> bool:
    """Import segmentation-models-pytorch, blocking triton first where it would crash.

    Returns
    -------
    bool
        True when triton was blocked.
    """
    blocked = False
    if "triton" not in sys.modules and llvm_loaded():
        # None in sys.modules makes `import triton` raise ImportError; torch treats that as
        # "no triton" and carries on.
        sys.modules["triton"] = None  # type: ignore[assignment]
        blocked = True
        log.info("alges-napari: triton blocked (a libLLVM is loaded; importing it would crash)")
    import segmentation_models_pytorch  # noqa: F401 - the import is the point

    return blocked
