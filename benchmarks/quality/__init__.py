"""Quality benchmark: synthetic composites with known alpha, scored with gateway.quality."""
