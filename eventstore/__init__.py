"""PostgreSQL event store: append with expected version, read a stream, follow the global feed."""
