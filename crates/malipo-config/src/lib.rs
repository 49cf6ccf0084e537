//! `malipo.toml`: the configuration schema and secret references.
