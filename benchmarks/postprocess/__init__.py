"""Post-processing benchmark: full-resolution flow against its Pillow floor, and peak memory."""
