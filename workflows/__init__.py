"""Temporal workflows: deterministic orchestration of the order saga."""
