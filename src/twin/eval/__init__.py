"""`twin eval`: measure how much each run sounds like you (metrics.py, privacy.py, report.py)."""
