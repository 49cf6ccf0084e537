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
