"""Which engine each scoring pass was told to use, in this process and on dask workers.

The scoring pass asks :func:`~alges_napari.core.learn.engine.pick_engine` for its engine with
the choice it was handed (``ScoreOptions.engine``); a spy in its place records that choice and
then picks as before, so results do not change.
"""

from __future__ import annotations

import os
from typing import Any


def spy_here(monkeypatch: Any) -> list[str | None]:
    """Record, in this process, the engine choice of every scoring pass from now on."""
    from alges_napari.core.acquire import scoring

    seen: list[str | None] = []
    real = scoring.pick_engine

    def spy(model: Any, x: Any, frames: int, choice: str | None = None) -> Any:
        seen.append(choice)
        return real(model, x, frames, choice)

    monkeypatch.setattr(scoring, "pick_engine", spy)
    return seen


def engine_environ() -> dict[str, str]:
    """``$ALGES_ENGINE`` where it is set (compared whole: torch sets variables as it loads)."""
    return {k: v for k, v in os.environ.items() if k == "ALGES_ENGINE"}


def spy_on_workers(client: Any) -> Any:
    """Record the engine choices of the passes ``client``'s workers run from now on.

    Returns a function that puts every worker back as it was and returns, per worker,
    ``(its $ALGES_ENGINE or None, the choices its passes were told)``.
    """

    # Defined inside, so that client.run sends them by value (a worker cannot import tests).
    def install() -> None:
        from alges_napari.core.acquire import scoring

        real = scoring.pick_engine
        seen: list[Any] = []

        def spy(model: Any, x: Any, frames: int, choice: Any = None) -> Any:
            seen.append(choice)
            return real(model, x, frames, choice)

        spy.real, spy.seen = real, seen  # type: ignore[attr-defined]
        scoring.pick_engine = spy

    def collect() -> tuple[str | None, list[Any]]:
        import os

        from alges_napari.core.acquire import scoring

        spy = scoring.pick_engine
        seen = list(getattr(spy, "seen", []))
        if hasattr(spy, "real"):
            scoring.pick_engine = spy.real
        return os.environ.get("ALGES_ENGINE"), seen

    client.run(install)
    return lambda: client.run(collect)
