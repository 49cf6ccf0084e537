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
    /// A production configuration fails the checklist (`malipo check-config` lists the same).
    #[error("refusing a production configuration with {} checklist failure(s):\n{}", .0.len(), render(.0))]
    Checklist(Vec<malipo_checklist::Finding>),
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

fn render(findings: &[malipo_checklist::Finding]) -> String {
    findings
        .iter()
        .map(malipo_checklist::Finding::render)
        .collect::<Vec<_>>()
        .join("\n")
}
