"""Generated protobuf and gRPC stubs for the scmfit.v1 API (regenerate with scripts/gen_protos.sh)."""
