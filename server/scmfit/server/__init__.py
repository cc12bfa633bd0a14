"""The scmfit gRPC server: fits DoWhy structural causal models in warm worker processes."""
