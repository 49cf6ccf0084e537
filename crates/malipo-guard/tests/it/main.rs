//! The guard's integration tests, one binary: the layer on an axum router (`oneshot`), and in a
//! real server spoken to over raw HTTP/1.1. The log test is its own binary (`tests/logs.rs`), as it
//! installs a global subscriber.

mod http;
mod layer;
