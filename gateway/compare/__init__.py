"""A/B quality comparison between providers, and live experiments with mirror traffic."""
