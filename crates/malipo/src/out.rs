//! Standard output that a closed pipe ends quietly.

use std::io::Write as _;

/// Writes one line on standard output. A closed pipe exits the process with status 0 (the
/// reader had what it wanted); any other write error exits with status 1 after saying so.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{args}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// The error and its causes, one line each. A cause whose text its parent already quotes (an
/// OS error inside "cannot read …: No such file or directory") is not repeated.
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = format!("error: {e}\n");
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !said.contains(&text) {
            out.push_str(&format!("  caused by: {text}\n"));
        }
        said = text;
    }
    out
}

/// A progress bar on standard error for a long command, in the commands' one style: `{prefix}`
/// names what is counted, `counted` follows the position (such as `rows`), and `extra` what the
/// template adds after the rate (such as `, {eta} left`).
pub fn progress_bar(counted: &str, extra: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    let template = format!("{{prefix:>18}} [{{bar:30}}] {{pos}}/{{len}}{counted} ({{per_sec}}{extra})");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::error_report;

    #[test]
    fn a_cause_the_message_already_quotes_is_said_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let config = malipo_config::ConfigError::Read {
            path: "malipo.toml".into(),
            source: io,
        };
        let e = anyhow::Error::new(config).context("cannot load the configuration");
        let report = error_report(&e);
        assert_eq!(report.matches("os error 2").count(), 1, "{report}");
        assert!(
            report.starts_with("error: cannot load the configuration\n  caused by: cannot read"),
            "{report}"
        );
    }
}
