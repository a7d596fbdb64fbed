"""Lower layer: provider protocol, vendor adapters and the local engine (never imports gateway)."""
