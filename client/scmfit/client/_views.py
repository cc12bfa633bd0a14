"""Typed views over the service's messages, filled by field name from the message's own descriptor.

A view is a frozen dataclass whose fields are named as its message's. `view(cls, message)` converts
each by the proto field's type and the view's annotation: unset optional fields become None, enums
become the annotated StrEnum (or their lower-case name), durations and timestamps become seconds,
nested messages become their annotated views. A view lists in `DERIVED` the few fields it computes
from others (with the proto field each reads) and in `UNMAPPED` the proto fields it leaves to `raw`;
tests/client/test_views.py checks both sides for every view.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from google.protobuf.message import Message

V = TypeVar("V")

Derived = Mapping[str, tuple[str, Callable[[Any], Any]]]
"""view field -> (the proto field it reads, how it is computed from the message)."""


def enum_prefix(enum_type: Any) -> str:
    """`FIT_STATUS_` for FitStatus: the zero value's name without UNSPECIFIED (buf's STANDARD naming)."""
    return str(enum_type.values[0].name).removesuffix("UNSPECIFIED")


def enum_name(enum_type: Any, number: int) -> str:
    """`enum_name(pb.FitStatus.DESCRIPTOR, 1)` is "SUCCESS"."""
    return str(enum_type.values_by_number[number].name).removeprefix(enum_prefix(enum_type))


def seconds(message: Any) -> float:
    """A Duration or Timestamp in seconds."""
    return float(message.ToNanoseconds()) / 1e9


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """The type inside `X | None`, and whether None is allowed."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return (args[0] if len(args) == 1 else hint), True
    return hint, False


def _convert(field: Any, value: Any, hint: Any) -> Any:
    if field.enum_type is not None:
        name = enum_name(field.enum_type, value)
        inner, optional = _unwrap(hint)
        if isinstance(inner, type) and issubclass(inner, enum.Enum):
            return inner[name] if name in inner.__members__ else None
        return None if optional and name == "UNSPECIFIED" else name.lower()
    message = field.message_type
    if message is None:
        return value
    if message.full_name in ("google.protobuf.Duration", "google.protobuf.Timestamp"):
        return seconds(value)
    inner, _ = _unwrap(hint)
    return view(inner, value)


def view(cls: type[V], message: Message) -> V:
    """The `cls` view of `message`; see the module docstring."""
    derived: Derived = getattr(cls, "DERIVED", {})
    hints = _hints(cls)  # type: ignore[arg-type]  # a class is hashable; mypy cannot see it through type[V]
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if name == "raw":
            values[name] = message
        elif name in derived:
            values[name] = derived[name][1](message)
        else:
            descriptor = message.DESCRIPTOR.fields_by_name[name]
            raw = getattr(message, name)
            if descriptor.is_repeated:
                item = typing.get_args(hints[name])[0]
                values[name] = tuple(_convert(descriptor, one, item) for one in raw)
            elif descriptor.has_presence and not message.HasField(name) and _unwrap(hints[name])[1]:
                values[name] = None
            else:
                values[name] = _convert(descriptor, raw, hints[name])
    return cls(**values)


_SCALAR_TYPES: dict[int, type] = {1: float, 2: float, 3: int, 4: int, 5: int, 8: bool, 9: str, 12: bytes, 13: int}
"""Proto scalar field types (double, float, int64, uint64, int32, bool, string, bytes, uint32) in Python."""


def descriptor_view(name: str, message: Any, derived: Derived, types: Mapping[str, Any], doc: str, module: str) -> type:
    """A view class whose fields are every field of `message` (a descriptor), in proto order, so a field
    added to the proto is in the view with no edit. Enums are lower-case names unless `types` gives their
    StrEnum; fields that `derived` reads are replaced by the derived ones."""
    consumed = {source for source, _ in derived.values()}
    fields: list[tuple[str, Any]] = []
    for field in message.fields:
        if field.name in consumed:
            continue
        kind = types.get(field.name) or (str if field.enum_type is not None else _SCALAR_TYPES[field.type])
        if field.is_repeated:
            kind = tuple[kind, ...]  # type: ignore[valid-type]
        elif field.has_presence and field.message_type is None:
            kind = kind | None
        fields.append((field.name, kind))
    fields.extend((derived_name, types.get(derived_name, Any)) for derived_name in derived)
    cls = dataclasses.make_dataclass(name, fields, frozen=True, namespace={"DERIVED": derived, "__doc__": doc})
    cls.__module__ = module
    return cls
