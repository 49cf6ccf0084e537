/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A secret reference could not be resolved.
    #[error(transparent)]
    Secret(#[from] malipo_config::ConfigError),
    /// The store could not be opened.
    #[error("database: {0}")]
    Store(#[from] malipo_store::StoreError),
    /// The callback token key could not be read or created.
    #[error("callback token key {path}: {source}")]
    TokenKey {
        /// The key file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
