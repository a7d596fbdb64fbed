"""Unified API tests."""
