"""Package marker: tests/quality/test_metrics.py shares a basename with test_metrics.py here."""
