//! PostgreSQL-specific behaviour: several instances on one database, a restarting server.
