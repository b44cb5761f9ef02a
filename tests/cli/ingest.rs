//! ingest tests
