"""Generated gRPC contracts of the rose-gateway backend services (see protos/)."""
