"""Record: an immutable value class with named fields, cheap to define (issue 15).

    class Layout(Record):
        chunk_log2: int
        payload_length: int = 0

gives ``__slots__``, ``__init__`` (positional or by name, defaults as written), ``==`` and
``hash`` over the fields (and the class: a record never equals a tuple or another record
type), ``repr``, ``_replace``, ``_fields`` and pickling; assignment raises AttributeError.
Type checkers read it as a frozen dataclass (``typing.dataclass_transform``).

Why not ``typing.NamedTuple``, which these types were: defining one costs ~0.6 M
instructions (``collections.namedtuple`` compiles its ``__new__``, then typing checks each
field's type and sets the class's bases again), a record ~0.1 M, and a small ``rwc cat``
defines seventeen before it can open anything (bench/profiles/startup.md, session 17). Why
not a frozen dataclass: ~3.7 M each (it compiles six methods). What a record does not do
that a NamedTuple did: iterate, index, compare with ``<`` or serialize as a JSON list;
mypy refuses the first three, and nothing passes a record to ``json``. Nor does a record
equal a tuple of its values (mypy cannot see such a comparison: it is always False).

The price is paid per instance instead: ``__init__`` is one generic function (~4 us against
a NamedTuple's ~0.4 us, 4 fields), so a type made once per archive entry stays a NamedTuple
(:class:`pycontainer.format.archive.Entry`).
"""

from typing import Any, ClassVar, Self, dataclass_transform


@dataclass_transform(frozen_default=True)
class _RecordType(type):
    """Turns a record class's annotations into its slots, fields and defaults."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        if any(base is not Record and issubclass(base, Record) for base in bases):
            raise TypeError("a record cannot extend another record")  # one list of fields
        fields = tuple(n for n in namespace.get("__annotations__", {}) if not n.startswith("_"))
        # A default stays beside the fields, not as a class attribute: a class attribute of
        # a slot's name would hide the slot.
        defaults = {n: namespace.pop(n) for n in fields if n in namespace}
        namespace.update(
            __slots__=fields, __match_args__=fields, _fields=fields, _field_defaults=defaults
        )
        return super().__new__(mcs, name, bases, namespace)


class Record(metaclass=_RecordType):
    """The base of every record (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]]
    _field_defaults: ClassVar[dict[str, Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set every field: the positional arguments in order, then by name or default."""
        cls = type(self)
        if len(args) > len(cls._fields):
            raise TypeError(f"{cls.__name__}() takes {len(cls._fields)} fields, got {len(args)}")
        for name, value in zip(cls._fields, args, strict=False):
            object.__setattr__(self, name, value)
        for name in cls._fields[len(args) :]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in cls._field_defaults:
                value = cls._field_defaults[name]
            else:
                raise TypeError(f"{cls.__name__}() needs the field {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{cls.__name__}() has no field {sorted(kwargs)[0]!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def _replace(self, **changes: Any) -> Self:
        """A copy with the named fields changed."""
        return type(self)(**{**dict(zip(self._fields, self._values(), strict=True)), **changes})

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self._values(), strict=True))
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        return type(self), self._values()
