"""pycontainer._record.Record: the value classes of the format, key release and client.

They replaced typing.NamedTuple for its cost to define (issue 15); what the code relied on
must hold: immutability, equality and hashing by value, defaults, ``_replace``, pickling.
"""

from __future__ import annotations

import copy
import pickle

import pytest

from pycontainer._record import Record


class Point(Record):
    x: int
    y: int
    label: str = "p"


class Other(Record):
    x: int
    y: int
    label: str = "p"


def test_fields_defaults_and_keywords() -> None:
    p = Point(1, y=2)
    assert (p.x, p.y, p.label) == (1, 2, "p")
    assert Point._fields == ("x", "y", "label")
    assert not hasattr(p, "__dict__")  # slots only
    assert repr(p) == "Point(x=1, y=2, label='p')"
    assert Point(label="q", y=2, x=1).label == "q"


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((1,), {}, r"Point\(\) needs the field 'y'"),
        ((1, 2, "a", 4), {}, r"Point\(\) takes 3 fields, got 4"),
        ((1, 2), {"z": 3}, r"Point\(\) has no field 'z'"),
        ((1, 2), {"x": 3}, r"Point\(\) has no field 'x'"),  # given twice
    ],
)
def test_wrong_arguments_are_refused(
    args: tuple[object, ...], kwargs: dict[str, object], error: str
) -> None:
    with pytest.raises(TypeError, match=error):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_immutable() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError, match="immutable"):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del p.x
    with pytest.raises(AttributeError):
        p.z = 3
    assert p.x == 1


def test_equality_and_hash_by_value_and_class() -> None:
    assert Point(1, 2) == Point(1, 2, "p")
    assert hash(Point(1, 2)) == hash(Point(1, 2, "p"))
    assert Point(1, 2) != Point(1, 3)
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    # Unlike a NamedTuple: never equal to a tuple or to a record of another class.
    assert Point(1, 2) != (1, 2, "p")
    assert Point(1, 2) != Other(1, 2)


def test_replace_copy_and_pickle() -> None:
    p = Point(1, 2)
    q = p._replace(y=5)
    assert (p, q) == (Point(1, 2), Point(1, 5))
    with pytest.raises(TypeError, match="has no field 'z'"):
        p._replace(z=1)
    for twin in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert twin == p and type(twin) is Point


def test_a_record_cannot_extend_a_record() -> None:
    with pytest.raises(TypeError, match="cannot extend another record"):

        class Point3(Point):  # one list of fields per record
            z: int = 0
