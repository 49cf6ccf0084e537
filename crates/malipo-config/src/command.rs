//! Secrets from a secrets manager: `{ command = ["vault", "kv", "get", "-field=passkey", "secret/mpesa"] }`.
//!
//! The program runs without a shell, with a timeout; its standard output (one trailing newline
//! trimmed) is the secret and is cached for a while so a busy gateway does not call the manager
//! on every use. Neither the output nor the program's standard error ever reaches a log or an
//! error: errors name the program and its exit status only.
//!
//! The program is contained: it starts with an empty environment (plus `PATH`, `HOME`, `LANG`
//! and the variables its reference names in `pass_env`), so the other secrets of malipo's
//! environment are not handed to it; it leads its own process group, and on a timeout the whole
//! group is killed, children included; the deadline covers reading its output too (a background
//! child holding standard output open cannot hang the start-up); and at most
//! [`MAX_OUTPUT_BYTES`] of output are read.

use std::collections::HashMap;
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use malipo_core::Secret;

/// The default time a command may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a fetched secret is reused.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(300);
/// The most output read from a secrets program: a secret is small, a runaway program is not.
pub const MAX_OUTPUT_BYTES: u64 = 64 * 1024;
/// Variables every secrets program gets (when set), beside those its reference passes.
const BASE_ENV: [&str; 6] = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ"];

/// A `{ command = [...] }` secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandRef {
    /// The program and its arguments (no shell: no globbing, no expansion).
    pub argv: Vec<String>,
    /// How long the program may run before it is killed.
    pub timeout: Duration,
    /// How long its answer is reused.
    pub cache_for: Duration,
    /// Environment variables handed to the program besides `PATH`, `HOME`, `USER`, `LANG`,
    /// `LC_ALL` and `TZ` (for example `VAULT_ADDR`, `VAULT_TOKEN`).
    pub pass_env: Vec<String>,
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
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(
                BASE_ENV
                    .iter()
                    .copied()
                    .chain(self.pass_env.iter().map(String::as_str))
                    .filter_map(|name| std::env::var_os(name).map(|v| (name, v))),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            // Its own process group, so a timeout kills whatever it started too.
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {program:?}: {}", e.kind()))?;
        let stdout = child.stdout.take().ok_or("no standard output")?;
        // Read on a thread so a program that fills the pipe cannot block the timeout; the
        // channel lets the reading have a deadline too.
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let read = stdout
                .take(MAX_OUTPUT_BYTES + 1)
                .read_to_end(&mut buf)
                .map(|_| buf);
            let _ = tx.send(read);
        });
        let deadline = Instant::now() + self.timeout;
        let timed_out = |child: &mut Child| {
            kill_group(child);
            format!(
                "{program:?} did not finish within {}s and was killed",
                self.timeout.as_secs_f32()
            )
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => return Err(timed_out(&mut child)),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    kill_group(&mut child);
                    return Err(format!("cannot wait for {program:?}: {}", e.kind()));
                }
            }
        };
        let read = output.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        // Whatever it left behind (a background child) goes with it.
        kill_group(&mut child);
        let bytes = match read {
            Ok(read) => {
                read.map_err(|e| format!("reading the output of {program:?} failed: {}", e.kind()))?
            }
            Err(_) => {
                return Err(format!(
                    "{program:?} exited but its output stayed open past {}s (a background process holds it)",
                    self.timeout.as_secs_f32()
                ))
            }
        };
        if bytes.len() as u64 > MAX_OUTPUT_BYTES {
            return Err(format!(
                "{program:?} printed more than {MAX_OUTPUT_BYTES} bytes; a secret is expected"
            ));
        }
        if !status.success() {
            return Err(match status.code() {
                Some(code) => format!("{program:?} exited with status {code}"),
                None => format!("{program:?} was killed by a signal"),
            });
        }
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

/// Kills the program's process group (it leads it) and reaps the program.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
