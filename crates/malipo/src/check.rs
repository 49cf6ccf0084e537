//! The production checklist as `malipo check-config` and `serve` run it: the library's rules
//! (`malipo-checklist`, which `Gateway::from_config` also applies), then whether the database
//! can be opened and written, which only a command about to use it needs to know.

pub use malipo_checklist::{production, secret_refs, CheckOptions, Finding, Level};
use malipo_config::{Config, Database};

/// The findings of a run, in rule order, the database's last.
pub fn check(config: &Config, options: CheckOptions) -> Vec<Finding> {
    let mut out = malipo_checklist::check(config, options);
    if options.fail_fast && out.iter().any(|f| f.level == Level::Fail) {
        return out;
    }
    out.extend(database(config));
    out
}

fn database(config: &Config) -> Vec<Finding> {
    const RULE: &str = "database-writable";
    let backend = match config.database.backend() {
        Ok(b) => b,
        Err(e) => return vec![Finding::fail(RULE, e, "fix database.url")],
    };
    vec![match crate::db::probe(&backend, config) {
        Ok(what) => Finding::pass(RULE, what),
        Err(e) => Finding::fail(
            RULE,
            format!("the database is not usable: {e}"),
            match backend {
                Database::Sqlite { .. } => {
                    "point database.url at malipo's SQLite file, in a directory that exists and malipo's user may write"
                }
                Database::Postgres { .. } => {
                    "check the server is up, the URL's credentials, that the user may write, and that a pooler in front of it runs in session mode"
                }
            },
        ),
    }]
}
