"""Fake vendor servers that follow the vendor documents (tests, demos, failover drills)."""
