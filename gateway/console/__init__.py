"""The web console: static pages served by the gateway, talking to its public API only."""
