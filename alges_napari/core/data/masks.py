"""Mask I/O and validation: index PNG, CholecSeg8k colour PNG, watershed PNG.

In memory a mask is always a uint8 (H, W) array of class ids with 255 meaning "ignore". On disk
three formats are read and written, losslessly (PNG through Pillow):

- **index**: grey PNG, pixel = class id (255 = ignore).
- **colour**: RGB PNG, pixel = the class colour of the schema. Real CholecSeg8k colour masks are
  sometimes RGBA (the alpha channel is dropped) and carry anti-aliased, slightly off-palette
  colours on region borders: a pixel within ``tolerance`` (largest per-channel difference,
  default :data:`COLOR_TOLERANCE`) of its nearest palette colour takes that class; farther
  colours become 255 and are counted in a warning naming the file. The tolerance is kept small
  on purpose: a border blend of two classes must not be guessed into a third. White (255, 255, 255),
  unless a class uses it, is the colour written for "ignore" and read back as 255 silently.
- **watershed**: grey PNG of the schema's watershed values (CholecSeg8k stores these as three
  equal channels: both are read; writing is single-channel unless ``channels=3``). 255 marks
  region boundaries and reads as ignore silently; other unknown values become 255 with a warning.

Writes go through :func:`alges_napari.core.atomic.atomic_write_bytes`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from alges_napari.core.atomic import atomic_write_bytes
from alges_napari.core.data.classes import IGNORE_INDEX, ClassSchema
from alges_napari.core.errors import MaskError, SchemaError

COLOR_TOLERANCE = 8
IGNORE_COLOR = (255, 255, 255)
MASK_KINDS = ("auto", "index", "color", "watershed")


class MaskValueWarning(UserWarning):
    """A mask file held values outside its schema; they were read as 255 (ignore)."""


# ------------------------------------------------------------------ PNG encode / decode


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 (H, W) or (H, W, 3) array as lossless PNG bytes."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise MaskError(f"cannot encode a {array.dtype} array of shape {array.shape} as PNG")
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def read_image_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a mask image file into an integer array (H, W) or (H, W, C), as stored.

    Raises
    ------
    MaskError
        When the file is missing, unreadable, truncated or not an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.mode == "P":  # palette PNG: the palette colours are the mask's content
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode in ("1", "LA"):
                img = img.convert("L")
            arr = np.asarray(img)
    except FileNotFoundError:
        raise MaskError(f"mask file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"cannot read mask {path}: {exc}") from None
    if arr.dtype.kind not in "uib":
        raise MaskError(f"mask {path} has non-integer pixels ({arr.dtype})")
    if arr.dtype != np.uint8 and arr.size and (arr.min() < 0 or arr.max() > 255):
        # 16-bit index masks are accepted only when their values fit in a byte.
        raise MaskError(f"mask {path} holds values {int(arr.min())}..{int(arr.max())} > 255")
    return arr.astype(np.uint8, copy=False)


def _grey_or_rgb(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return (array, is_grey): 3/4-channel images with equal RGB channels count as grey."""
    if arr.ndim == 2:
        return arr, True
    rgb = arr[..., :3]
    if arr.shape[-1] == 1:
        return arr[..., 0], True
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0], True
    return rgb, False


# ------------------------------------------------------------------ conversions


def _warn_unknown(count: int, what: str, name: str) -> None:
    if count:
        warnings.warn(
            f"{name}: {count} pixel(s) with {what} outside the schema were read as 255 (ignore)",
            MaskValueWarning,
            stacklevel=3,
        )


def index_to_color(mask: np.ndarray, schema: ClassSchema) -> np.ndarray:
    """Paint class ids in their schema colours: (H, W) -> (H, W, 3) uint8; ignore -> white."""
    lut = schema.color_lut()
    lut[schema.num_classes :] = IGNORE_COLOR
    return lut[np.asarray(mask, dtype=np.uint8)]


def _color_to_index(rgb: np.ndarray, schema: ClassSchema, tolerance: int) -> tuple[np.ndarray, int]:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] not in (3, 4):
        raise MaskError(f"a colour mask must be (H, W, 3) or (H, W, 4), got {rgb.shape}")
    rgb = rgb[..., :3].astype(np.int32)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    # Work on the few distinct colours, then scatter back: fast even for 854x480 masks.
    uniq, inverse = np.unique(codes.ravel(), return_inverse=True)
    ucol = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1)
    palette = np.asarray(schema.colors, dtype=np.int32)
    dist = np.abs(ucol[:, None, :] - palette[None, :, :]).max(axis=2)  # (U, C)
    nearest = dist.argmin(axis=1)
    ids = np.where(dist[np.arange(len(uniq)), nearest] <= tolerance, nearest, IGNORE_INDEX)
    unknown = ids == IGNORE_INDEX
    if tuple(IGNORE_COLOR) not in schema.colors:
        unknown &= uniq != ((255 << 16) | (255 << 8) | 255)
    counts = np.bincount(inverse, minlength=len(uniq))
    mask = ids.astype(np.uint8)[inverse].reshape(codes.shape)
    return mask, int(counts[unknown].sum())


def color_to_index(
    rgb: np.ndarray, schema: ClassSchema, tolerance: int = COLOR_TOLERANCE
) -> np.ndarray:
    """Map schema colours back to class ids: (H, W, 3|4) -> (H, W) uint8.

    Colours farther than ``tolerance`` (max per-channel difference) from every class colour
    become 255; alpha is ignored.
    """
    return _color_to_index(rgb, schema, tolerance)[0]


def _watershed_lut(schema: ClassSchema) -> np.ndarray:
    if schema.watershed is None:
        raise SchemaError(f"schema {schema.name!r} has no watershed values")
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[list(schema.watershed)] = np.arange(schema.num_classes, dtype=np.uint8)
    return lut


def index_to_watershed(mask: np.ndarray, schema: ClassSchema) -> np.ndarray:
    """Class ids -> watershed grey values (H, W) uint8; ignore (and unknown ids) -> 255."""
    if schema.watershed is None:
        raise SchemaError(f"schema {schema.name!r} has no watershed values")
    lut = np.full(256, 255, dtype=np.uint8)
    lut[: schema.num_classes] = schema.watershed
    return lut[np.asarray(mask, dtype=np.uint8)]


def _watershed_to_index(grey: np.ndarray, schema: ClassSchema) -> tuple[np.ndarray, int]:
    grey = np.asarray(grey, dtype=np.uint8)
    mask = _watershed_lut(schema)[grey]
    return mask, int(np.count_nonzero((mask == IGNORE_INDEX) & (grey != 255)))


def watershed_to_index(grey: np.ndarray, schema: ClassSchema) -> np.ndarray:
    """Watershed grey values -> class ids (H, W) uint8; 255 and unknown values -> 255."""
    return _watershed_to_index(grey, schema)[0]


def _index_clean(grey: np.ndarray, schema: ClassSchema) -> tuple[np.ndarray, int]:
    bad = (grey >= schema.num_classes) & (grey != IGNORE_INDEX)
    count = int(np.count_nonzero(bad))
    if count:
        grey = np.where(bad, IGNORE_INDEX, grey).astype(np.uint8)
    return grey, count


# ------------------------------------------------------------------ read / write


def guess_kind(arr: np.ndarray, schema: ClassSchema) -> str:
    """Guess a decoded mask's format: "color", "index" or "watershed".

    Coloured pixels mean a colour mask. A grey mask whose values all are class ids (or 255) is
    read as index, otherwise as watershed when the schema has watershed values. A watershed
    mask holding only values that are also class ids (CholecSeg8k: 5, 11, 12) would be taken for
    an index mask: pass ``kind`` explicitly when the format is known.
    """
    grey, is_grey = _grey_or_rgb(arr)
    if not is_grey:
        return "color"
    values = np.unique(grey)
    if np.all((values < schema.num_classes) | (values == IGNORE_INDEX)):
        return "index"
    return "watershed" if schema.watershed is not None else "index"


def read_mask(
    path: str | os.PathLike[str],
    schema: ClassSchema,
    kind: str = "auto",
    tolerance: int = COLOR_TOLERANCE,
) -> np.ndarray:
    """Read a mask file as class ids: uint8 (H, W), 255 = ignore.

    Parameters
    ----------
    path : path-like
        A PNG (or any lossless image Pillow reads).
    schema : ClassSchema
        The classes the file encodes.
    kind : {"auto", "index", "color", "watershed"}
        The file's format; "auto" guesses with :func:`guess_kind`.
    tolerance : int
        Colour masks only: largest per-channel difference accepted from a class colour.

    Returns
    -------
    ndarray
        uint8 (H, W). Values outside the schema become 255, with a :class:`MaskValueWarning`
        giving their count and the file.

    Raises
    ------
    MaskError
        Unreadable file, unknown ``kind``, or a colour file read as index/watershed.
    """
    if kind not in MASK_KINDS:
        raise MaskError(f"unknown mask kind {kind!r}; use one of {MASK_KINDS}")
    arr = read_image_array(path)
    if kind == "auto":
        kind = guess_kind(arr, schema)
    if kind == "color":
        if arr.ndim != 3 or arr.shape[-1] < 3:
            raise MaskError(f"mask {path} is grey, not a colour mask (shape {arr.shape})")
        mask, unknown = _color_to_index(arr, schema, tolerance)
        _warn_unknown(unknown, "colours", str(path))
        return mask
    grey, is_grey = _grey_or_rgb(arr)
    if not is_grey:
        raise MaskError(f"mask {path} has coloured pixels; it cannot be read as {kind}")
    if kind == "watershed":
        mask, unknown = _watershed_to_index(grey, schema)
    else:
        mask, unknown = _index_clean(np.ascontiguousarray(grey), schema)
    _warn_unknown(unknown, "values", str(path))
    return mask


def write_index_png(
    path: str | os.PathLike[str], mask: np.ndarray, schema: ClassSchema | None = None
) -> Path:
    """Write class ids as a grey PNG, atomically; validated against ``schema`` when given."""
    if schema is not None:
        mask = validate_mask(mask, schema, name=str(path))
    return atomic_write_bytes(path, encode_png(_as_2d_uint8(mask, str(path))))


def write_color_png(path: str | os.PathLike[str], mask: np.ndarray, schema: ClassSchema) -> Path:
    """Write class ids as an RGB colour PNG (CholecSeg8k ``_endo_color_mask.png``), atomically."""
    mask = validate_mask(mask, schema, name=str(path))
    return atomic_write_bytes(path, encode_png(index_to_color(mask, schema)))


def write_watershed_png(
    path: str | os.PathLike[str], mask: np.ndarray, schema: ClassSchema, channels: int = 1
) -> Path:
    """Write class ids as watershed grey values, atomically (``channels=3`` as CholecSeg8k does)."""
    if channels not in (1, 3):
        raise MaskError(f"channels must be 1 or 3, got {channels}")
    mask = validate_mask(mask, schema, name=str(path))
    grey = index_to_watershed(mask, schema)
    if channels == 3:
        grey = np.dstack([grey] * 3)
    return atomic_write_bytes(path, encode_png(grey))


def _as_2d_uint8(mask: np.ndarray, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise MaskError(f"{name}: a mask must be 2-D (H, W), got shape {mask.shape}")
    if mask.dtype == np.uint8:
        return mask
    if mask.dtype.kind not in "uib":
        raise MaskError(f"{name}: mask dtype {mask.dtype} is not an integer type")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise MaskError(
            f"{name}: mask values {int(mask.min())}..{int(mask.max())} do not fit in 0..255"
        )
    return mask.astype(np.uint8)


def validate_mask(
    mask: np.ndarray,
    schema: ClassSchema,
    shape: tuple[int, int] | None = None,
    name: str = "mask",
) -> np.ndarray:
    """Check a mask array against a schema and a frame size; return it as uint8.

    Parameters
    ----------
    mask : array-like
        Class ids (H, W); any integer dtype whose values fit in uint8.
    schema : ClassSchema
        Allowed values are ``0 .. num_classes-1`` and 255 (ignore).
    shape : (int, int), optional
        The frame's (H, W); the mask must match it.
    name : str
        What the mask is (file or frame key), for error messages.

    Returns
    -------
    ndarray
        The mask as uint8 (H, W) (no copy when it already was).

    Raises
    ------
    MaskError
        Wrong ndim, dtype, size, or values outside the schema.
    """
    out = _as_2d_uint8(mask, name)
    if shape is not None and tuple(out.shape) != tuple(shape):
        raise MaskError(
            f"{name}: mask is {out.shape[1]}x{out.shape[0]} (WxH) but the frame is "
            f"{shape[1]}x{shape[0]}"
        )
    bad = (out >= schema.num_classes) & (out != IGNORE_INDEX)
    if bad.any():
        values = sorted(int(v) for v in np.unique(out[bad]))
        raise MaskError(
            f"{name}: values {values[:10]} are not classes of schema {schema.name!r} "
            f"(0..{schema.num_classes - 1}, or 255 = ignore)"
        )
    return out
