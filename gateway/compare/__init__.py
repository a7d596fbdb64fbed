"""A/B quality comparison between providers, and live experiments with shadow traffic.

Imports nothing on purpose: `gateway.settings` imports `gateway.compare.config`, and the other
modules here import the runtime (which imports the settings).
"""
