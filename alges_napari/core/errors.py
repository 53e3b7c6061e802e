"""Exceptions raised by the core.

Every error a user can cause derives from :class:`AlgesError`, a ``ValueError``, and its message
names the file or value at fault, so the widget and the command line can show it as it is.
"""

from __future__ import annotations


class AlgesError(ValueError):
    """Base class for problems with user input: files, values, settings."""


class FrameSourceError(AlgesError):
    """A frame source (folder, video, TIFF, CholecSeg8k tree) cannot be opened or read."""


class FrameKeyError(FrameSourceError):
    """A frame key that a frame source does not list (a label or queue entry from elsewhere).

    Attributes
    ----------
    key : str
        The key asked for.
    source : str
        The source asked (its path), named in the message with the key.
    """

    def __init__(self, key: str, source: object) -> None:
        self.key, self.source = key, str(source)
        super().__init__(f"frame key {key!r} is not in {self.source}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Rebuilt from key and source, not the message: a dask worker's error crosses a pickle.
        return type(self), (self.key, self.source)


class MaskError(AlgesError):
    """A mask file or array is unreadable, of the wrong size, or holds values outside the schema."""


class SchemaError(AlgesError):
    """A class schema is malformed (duplicate ids, bad colours, missing names)."""


class CheckpointError(AlgesError):
    """A model checkpoint is missing, unsafe (pickle) or does not match its metadata."""


class ProjectError(AlgesError):
    """An on-disk project is missing, malformed or cannot be written."""


class ProjectLockedError(ProjectError):
    """Another process holds the project open for writing."""
