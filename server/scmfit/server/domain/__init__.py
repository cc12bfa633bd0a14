"""Plain types and rules of a fit and a query: no gRPC, no DoWhy."""
