use std::path::PathBuf;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source} (write one with `malipo init`, or pass --config)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML.
    #[error("{path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Valid TOML, but a key is unknown or a value has the wrong type.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key's dotted path, such as `mpesa.shortcode`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `MALIPO_*` variable cannot be applied.
    #[error("environment override {var}: {message}")]
    Override {
        /// The variable's name.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A secret reference cannot be resolved. Never carries the value.
    #[error("secret from {source_desc} {problem}")]
    Secret {
        /// Where the secret was to come from (`environment variable X`, `file P`).
        source_desc: String,
        /// What went wrong.
        problem: String,
    },
}
