"""The dock widget's hooks into the viewer: key bindings and event callbacks, held weakly.

The viewer's keymap and events outlive a closed widget, so they hold functions that call the
widget only while it lives; :func:`~alges_napari._qt.jobs.release` removes them again.
"""

from __future__ import annotations

import weakref
from functools import reduce
from typing import Any

from napari.utils.notifications import show_warning

from alges_napari._qt.annotate_panel import KEYS
from alges_napari._qt.jobs import Resources
from alges_napari._qt.propagate_actions import PROPAGATE_KEY

#: The dock's shortcuts: name -> napari key name.
SHORTCUTS = {**KEYS, "propagate": PROPAGATE_KEY}
#: The widget method (a dotted path from the widget) each shortcut calls.
KEY_METHODS = {
    "next": "next_frame",
    "accept": "accept",
    "skip": "skip",
    "propagate": "propagator.start",
}


def weak_call(obj: Any, method: str, name: str) -> Any:
    """A named function calling ``obj.method()`` (arguments dropped) while ``obj`` lives.

    ``method`` may be a dotted path (``"propagator.start"``). napari wants key-binding
    functions to have a ``__name__``.
    """
    ref = weakref.ref(obj)

    def call(*_: Any) -> None:
        target = ref()
        if target is not None:
            reduce(getattr, method.split("."), target)()

    call.__name__ = call.__qualname__ = name
    return call


def hook_viewer(widget: Any, res: Resources, events: dict[str, Any]) -> None:
    """Bind the annotation shortcuts to ``widget`` and connect viewer ``events`` to its methods.

    Parameters
    ----------
    widget : QWidget
        Has the methods named in :data:`KEY_METHODS` and in ``events``.
    res : Resources
        Records the bindings and connections for :func:`~alges_napari._qt.jobs.release`.
    events : dict
        Widget method name -> napari event emitter that calls it (without arguments).
    """
    for name, key in SHORTCUTS.items():
        try:
            res.viewer.bind_key(key, weak_call(widget, KEY_METHODS[name], f"alges_{name}"))
            res.bound_keys.append(key)
        except ValueError:  # someone else holds the key: keep theirs, keep the button
            show_warning(f"ALGES: key {key} is already bound; use the {name} button")
    for method, emitter in events.items():
        callback = weak_call(widget, method, method)
        emitter.connect(callback)
        res.callbacks.append((emitter, callback))


def source_in_viewer(viewer: Any) -> str | None:
    """The path of frames opened in ``viewer`` with the plugin's reader, if any."""
    for layer in viewer.layers:
        path = (layer.metadata.get("alges_source") or {}).get("path")
        if path:
            return path
    return None
