"""The gRPC edge: converts messages, delegates to the engine, maps errors to statuses."""
