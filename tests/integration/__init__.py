"""Integration tests: the real gateway over loopback HTTP in front of the sandbox vendors."""
