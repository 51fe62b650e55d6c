"""Text report (placeholder module replaced below)."""
