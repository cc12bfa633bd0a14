"""FitConfig: the one typed form of a fit's settings on the client, derived from scmfit.v1.FitConfig.

Every call that fits (`Client.fit`, `Client.fit_events`, `AsyncClient`, `fit_request`, the CLI's
cases and flags, and the lift-sys adapter) takes this one object. Its fields are the proto message's,
read from the descriptor, so a setting added to the proto needs no edit here. Defaults and ranges are
the server's, stated once in the proto's comments: every field is None until set, only what is set
travels, and the server names the field and the interval when a value is out of range.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import TYPE_CHECKING, Any, ClassVar

from scmfit.client._errors import InvalidRequestError
from scmfit.v1 import causal_model_service_pb2 as pb

_invalid = InvalidRequestError.of_field

Setting = bool | int | float | str | None

_FieldDescriptor = type(pb.FitConfig.DESCRIPTOR.fields[0])
_PYTHON_TYPES: dict[int, type] = {
    _FieldDescriptor.TYPE_DOUBLE: float,
    _FieldDescriptor.TYPE_FLOAT: float,
    _FieldDescriptor.TYPE_BOOL: bool,
    _FieldDescriptor.TYPE_ENUM: str,
    **{
        kind: int
        for kind in (
            _FieldDescriptor.TYPE_INT32,
            _FieldDescriptor.TYPE_INT64,
            _FieldDescriptor.TYPE_UINT32,
            _FieldDescriptor.TYPE_UINT64,
        )
    },
}
"""Each scalar proto type as the Python type FitConfig accepts (enums by their names)."""

FIELD_TYPES: dict[str, type] = {field.name: _PYTHON_TYPES[field.type] for field in pb.FitConfig.DESCRIPTOR.fields}
"""Every setting's name and Python type, in proto order."""
FIELD_NAMES: tuple[str, ...] = tuple(FIELD_TYPES)
"""Every setting's name, in proto order; cases and CLI flags are checked against these."""


def enum_choices(name: str) -> dict[str, int]:
    """The names an enum setting takes (GOOD, BETTER, ... without the enum's prefix) and their wire values."""
    enum = pb.FitConfig.DESCRIPTOR.fields_by_name[name].enum_type
    assert enum is not None, f"{name} is not an enum setting"
    prefix = f"{enum.values[0].name.removesuffix('UNSPECIFIED')}"
    return {value.name.removeprefix(prefix): value.number for value in enum.values if value.number != 0}


class _FitConfigMethods:
    """What every FitConfig does besides holding its fields (the fields come from the descriptor)."""

    def __post_init__(self) -> None:
        for name, kind in FIELD_TYPES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if kind is str:
                choices = enum_choices(name)
                if not isinstance(value, str) or value.upper() not in choices:
                    raise _invalid(f"config.{name}", f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
                object.__setattr__(self, name, value.upper())
            elif kind is bool and not isinstance(value, bool):
                raise _invalid(f"config.{name}", f"expected true or false, got {value!r}")
            elif kind is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise _invalid(f"config.{name}", f"expected an integer, got {value!r}")
            elif kind is float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
                raise _invalid(f"config.{name}", f"expected a number, got {value!r}")

    @classmethod
    def of(cls, base: FitConfig | None = None, /, **changes: Any) -> FitConfig:
        """`base` (or an empty config) with `changes`; None leaves a field as it is, and an unknown name is
        refused with the list of known ones, so a misspelled setting never silently takes its default."""
        unknown = sorted(set(changes) - set(FIELD_NAMES))
        if unknown:
            raise _invalid(
                f"config.{unknown[0]}", f"unknown setting {unknown[0]!r}; known settings: {', '.join(FIELD_NAMES)}"
            )
        given = {name: value for name, value in changes.items() if value is not None}
        config: FitConfig = dataclasses.replace(base or FitConfig(), **given)
        return config

    def to_proto(self) -> pb.FitConfig:
        """Only the settings that are set: the server applies its defaults to the others."""
        values: dict[str, Any] = {}
        for name, kind in FIELD_TYPES.items():
            value = getattr(self, name)
            if value is not None:
                values[name] = enum_choices(name)[value] if kind is str else value
        return pb.FitConfig(**values)


if TYPE_CHECKING:

    class FitConfig(_FitConfigMethods):
        """A fit's settings: each field of scmfit.v1.FitConfig by name, None (the server's default) until set."""

        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

        def __init__(self, **settings: Setting) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

else:
    FitConfig = dataclasses.make_dataclass(
        "FitConfig",
        [(name, kind | None, dataclasses.field(default=None)) for name, kind in FIELD_TYPES.items()],
        bases=(_FitConfigMethods,),
        frozen=True,
        kw_only=True,
    )
    FitConfig.__module__ = __name__
    FitConfig.__doc__ = """A fit's settings: each field of scmfit.v1.FitConfig by name, None until set.

    The proto's comments give each setting's meaning, default and range (`scmfit fit --help` shows
    them). Enum settings take their names: quality "GOOD", "BETTER" or "BEST"; selection "RACING" or
    "EXHAUSTIVE", in any case."""
