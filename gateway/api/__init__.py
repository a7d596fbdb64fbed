"""HTTP layer: thin route handlers, request parsing and public schemas."""
