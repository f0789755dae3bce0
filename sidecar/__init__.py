"""genai-sidecar runtime: OTLP/gRPC in, processor pipeline, OTLP/gRPC out."""
