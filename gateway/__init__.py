"""Upper layer: Litestar app, routing, post-processing and shared state."""
