"""The only place DoWhy is used: per-node selection, fit, scoring, summaries and queries."""
