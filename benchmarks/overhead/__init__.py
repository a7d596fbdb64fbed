"""Gateway overhead: the same load sent to an instant upstream directly and through the gateway."""
