//! Secrets from a secrets manager: `{ command = ["vault", "kv", "get", "-field=passkey", "secret/mpesa"] }`.
//!
//! The program runs without a shell, with a timeout; its standard output (one trailing newline
//! trimmed) is the secret and is cached for a while so a busy gateway does not call the manager
//! on every use. Neither the output nor the program's standard error ever reaches a log or an
//! error: errors name the program and its exit status only.

use std::collections::HashMap;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use malipo_core::Secret;

/// The default time a command may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a fetched secret is reused.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(300);

/// A `{ command = [...] }` secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandRef {
    /// The program and its arguments (no shell: no globbing, no expansion).
    pub argv: Vec<String>,
    /// How long the program may run before it is killed.
    pub timeout: Duration,
    /// How long its answer is reused.
    pub cache_for: Duration,
}

type Cache = Mutex<HashMap<Vec<String>, (Instant, Secret<String>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

impl CommandRef {
    /// The program's name, for messages.
    pub fn program(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }

    /// The secret: from the cache while fresh, else by running the program.
    pub fn resolve(&self) -> Result<Secret<String>, String> {
        if let Ok(cache) = cache().lock() {
            if let Some((at, value)) = cache.get(&self.argv) {
                if at.elapsed() < self.cache_for {
                    return Ok(value.clone());
                }
            }
        }
        let value = self.run()?;
        if let Ok(mut cache) = cache().lock() {
            cache.insert(self.argv.clone(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    fn run(&self) -> Result<Secret<String>, String> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err("command is empty: give the program and its arguments as a list".into());
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {program:?}: {}", e.kind()))?;
        let mut stdout = child.stdout.take().ok_or("no standard output")?;
        // Read on a thread so a program that fills the pipe cannot block the timeout.
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).map(|_| buf)
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{program:?} did not finish within {}s and was killed",
                        self.timeout.as_secs_f32()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("cannot wait for {program:?}: {}", e.kind())),
            }
        };
        if !status.success() {
            return Err(match status.code() {
                Some(code) => format!("{program:?} exited with status {code}"),
                None => format!("{program:?} was killed by a signal"),
            });
        }
        let bytes = reader
            .join()
            .map_err(|_| format!("reading the output of {program:?} failed"))?
            .map_err(|e| format!("reading the output of {program:?} failed: {}", e.kind()))?;
        let mut text =
            String::from_utf8(bytes).map_err(|_| format!("the output of {program:?} is not UTF-8"))?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        if text.trim().is_empty() {
            return Err(format!("{program:?} printed nothing"));
        }
        Ok(Secret::new(text))
    }
}
