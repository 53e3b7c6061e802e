"""Class schemas: the built-in CholecSeg8k table and custom schemas from JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alges_napari.core.data.classes import CHOLECSEG8K, ClassSchema, get_schema, load_schema
from alges_napari.core.errors import SchemaError

# docs/method.md, "Data facts", typed in again independently of classes.py.
TABLE = [
    ("Black Background", 50, (127, 127, 127)),
    ("Abdominal Wall", 11, (210, 140, 140)),
    ("Liver", 21, (255, 114, 114)),
    ("Gastrointestinal Tract", 13, (231, 70, 156)),
    ("Fat", 12, (186, 183, 75)),
    ("Grasper", 31, (170, 255, 0)),
    ("Connective Tissue", 23, (255, 85, 0)),
    ("Blood", 24, (255, 0, 0)),
    ("Cystic Duct", 25, (255, 255, 0)),
    ("L-hook Electrocautery", 32, (169, 255, 184)),
    ("Gallbladder", 22, (255, 160, 165)),
    ("Hepatic Vein", 33, (0, 50, 128)),
    ("Liver Ligament", 5, (111, 74, 0)),
]


def _write(tmp_path, classes, **extra):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"classes": classes, **extra}))
    return path


def test_cholecseg8k_matches_the_design_table() -> None:
    assert CHOLECSEG8K.num_classes == 13
    assert list(CHOLECSEG8K.names) == [t[0] for t in TABLE]
    assert list(CHOLECSEG8K.watershed) == [t[1] for t in TABLE]
    assert list(CHOLECSEG8K.colors) == [t[2] for t in TABLE]
    assert CHOLECSEG8K.scored_classes == (0, 1, 2, 3, 4, 5, 9, 10)
    assert CHOLECSEG8K.ignore_index == 255
    assert get_schema("CholecSeg8k") is CHOLECSEG8K


def test_color_lut_paints_ids_and_leaves_the_rest_black() -> None:
    lut = CHOLECSEG8K.color_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    for i, (_, _, rgb) in enumerate(TABLE):
        assert tuple(lut[i]) == rgb
    assert not lut[13:].any()


def test_json_round_trip_gives_an_equal_schema(tmp_path) -> None:
    again = ClassSchema.from_json(json.loads(json.dumps(CHOLECSEG8K.to_json())))
    assert again == CHOLECSEG8K
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CHOLECSEG8K.to_json()))
    assert get_schema(path) == CHOLECSEG8K


def test_custom_schema_from_file(tmp_path) -> None:
    path = _write(
        tmp_path,
        [
            {"id": 1, "name": "tool", "color": [255, 0, 0]},
            {"id": 0, "name": "bg", "color": [0, 0, 0]},
        ],
    )
    schema = load_schema(path)
    assert schema.names == ("bg", "tool") and schema.colors == ((0, 0, 0), (255, 0, 0))
    assert schema.watershed is None and schema.scored_classes == (0, 1)
    assert schema.name == "schema"  # the file's stem when the JSON has no name


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        ([{"id": 0, "name": "a", "color": [1, 2, 3]}, {"id": 0, "name": "b", "color": [4, 5, 6]}],
         "duplicate class id 0"),
        ([{"id": 0, "name": "a", "color": [1, 2, 3]}, {"id": 2, "name": "b", "color": [4, 5, 6]}],
         r"missing \[1\]"),
        ([{"id": 0, "name": "a", "color": [1, 2, 300]}], "bad color"),
        ([{"id": 0, "name": "a", "color": [1, 2]}], "bad color"),
        ([{"id": 0, "name": "a", "color": "red"}], "bad color"),
        ([{"id": 0, "name": "a", "color": [1.5, 2, 3]}], "bad color"),
        ([{"id": 0, "name": "a", "color": [1, 2, 3]}, {"id": 1, "name": "b", "color": [1, 2, 3]}],
         "share the colour"),
        ([{"id": 0, "name": "a", "color": [1, 2, 3]}, {"id": 1, "name": "a", "color": [3, 2, 1]}],
         "duplicate class names"),
        ([{"id": 0, "name": "a"}], "needs id, name and color"),
        ([{"id": "0", "name": "a", "color": [1, 2, 3]}], "non-integer id"),
        ([], "empty"),
        ([{"id": 0, "name": "a", "color": [1, 2, 3], "watershed": 9},
          {"id": 1, "name": "b", "color": [3, 2, 1]}], "all classes or none"),
    ],
)  # fmt: skip
def test_bad_schema_files_name_the_file_and_entry(tmp_path, classes, match) -> None:
    path = _write(tmp_path, classes)
    with pytest.raises(SchemaError, match=match) as info:
        load_schema(path)
    assert str(path) in str(info.value)


def test_too_many_classes(tmp_path) -> None:
    classes = [{"id": i, "name": f"c{i}", "color": [i, i // 2, 7]} for i in range(255)]
    with pytest.raises(SchemaError, match="255 classes"):
        load_schema(_write(tmp_path, classes))
    ok = load_schema(_write(tmp_path, classes[:254]))
    assert ok.num_classes == 254


def test_scored_classes_must_be_ids(tmp_path) -> None:
    classes = [{"id": 0, "name": "a", "color": [1, 2, 3]}]
    with pytest.raises(SchemaError, match="scored class 3"):
        load_schema(_write(tmp_path, classes, scored_classes=[3]))


def test_missing_and_malformed_files(tmp_path) -> None:
    with pytest.raises(SchemaError, match="does not exist"):
        load_schema(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(bad)
    with pytest.raises(SchemaError, match="unknown schema"):
        get_schema("pascal")
