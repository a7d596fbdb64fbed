"""A/B quality comparison between providers, and live experiments with shadow traffic."""
