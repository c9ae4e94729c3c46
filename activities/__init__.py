"""Temporal activities of the order saga and the providers they call."""
