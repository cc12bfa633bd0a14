"""The proto's own comments, read from the descriptor set (with source info) that ships with the stubs:
the one documentation of every field (its meaning, range and default), so the CLI's help never restates
it by hand."""

from __future__ import annotations

import functools
from importlib import resources

from google.protobuf import descriptor_pb2

DESCRIPTOR_SET = "causal_model_service.binpb"
_MESSAGE_TYPE, _FIELD = 4, 2
"""FileDescriptorProto.message_type and DescriptorProto.field: the path numbers of a field's comment."""


@functools.cache
def _file() -> descriptor_pb2.FileDescriptorProto:
    data = resources.files("scmfit.v1").joinpath(DESCRIPTOR_SET).read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data).file[0]


@functools.cache
def field_comments(message: str) -> dict[str, str]:
    """`{field: comment}` for one message of scmfit.v1, in the proto's words."""
    proto = _file()
    index = next(i for i, m in enumerate(proto.message_type) if m.name == message)
    fields = proto.message_type[index].field
    comments = {field.name: "" for field in fields}
    for location in proto.source_code_info.location:
        path = tuple(location.path)
        if len(path) == 4 and path[:3] == (_MESSAGE_TYPE, index, _FIELD):
            comments[fields[path[3]].name] = " ".join(location.leading_comments.split())
    return comments
