"""A small web view of scmfit: an ASGI bridge that re-emits the gRPC fit stream as Server-Sent Events."""
