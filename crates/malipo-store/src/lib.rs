//! The storage port and its SQLite and PostgreSQL adapters.
