"""Process wiring shared by the API, the worker and the CLI: settings, logging, embedded infrastructure."""
