//! Starting, measuring and stopping the servers under test, each a child process on loopback.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The line `malipo serve` and the ceiling print once they accept connections.
const LISTENING: &str = "listening on http://";

/// The line `malipo serve` prints for its operations listener (`/metrics`), right after.
const OPS_LISTENING: &str = "ops listening on http://";

/// A running server.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its operations listener (`/metrics`) listens, when it announced one.
    pub ops_addr: Option<SocketAddr>,
}

impl Server {
    /// Starts `cmd` (stderr to `log`) and waits for its `listening on http://ADDR` line.
    pub async fn start_announced(cmd: Command, log: &Path) -> anyhow::Result<Server> {
        Self::start_announcing(cmd, log, false).await
    }

    /// [`Server::start_announced`] that also waits for `ops listening on http://ADDR` (`malipo
    /// serve` prints it with the others) and keeps that address in [`Server::ops_addr`].
    pub async fn start_announced_with_ops(cmd: Command, log: &Path) -> anyhow::Result<Server> {
        Self::start_announcing(cmd, log, true).await
    }

    async fn start_announcing(mut cmd: Command, log: &Path, want_ops: bool) -> anyhow::Result<Server> {
        cmd.stdout(Stdio::piped())
            .stderr(log_file(log)?)
            .kill_on_drop(true);
        let mut child = cmd.spawn().with_context(|| format!("cannot start {cmd:?}"))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(START_TIMEOUT, async {
            let (mut public, mut ops) = (None, None);
            while let Some(line) = lines.next_line().await? {
                let line = line.trim();
                if let Some(addr) = line.strip_prefix(LISTENING) {
                    public = Some(addr.trim_end_matches('/').to_owned());
                } else if let Some(addr) = line.strip_prefix(OPS_LISTENING) {
                    ops = Some(addr.trim_end_matches('/').to_owned());
                }
                if public.is_some() && (ops.is_some() || !want_ops) {
                    return Ok::<_, std::io::Error>(public.zip(Some(ops)));
                }
            }
            Ok(None)
        })
        .await;
        let (addr, ops_addr) = match found {
            Ok(Ok(Some((addr, ops)))) => (
                addr.parse()
                    .with_context(|| format!("unexpected address in {LISTENING}{addr}"))?,
                ops.map(|ops| {
                    ops.parse()
                        .with_context(|| format!("unexpected address in {OPS_LISTENING}{ops}"))
                })
                .transpose()?,
            ),
            Ok(_) => bail!("the server exited before listening; see {}", log.display()),
            Err(_) => bail!(
                "the server did not listen within {START_TIMEOUT:?}; see {}",
                log.display()
            ),
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            addr,
            ops_addr,
        })
    }

    /// Starts `cmd` (stdout and stderr to `log`) and waits until `addr` accepts connections.
    pub async fn start_polled(mut cmd: Command, addr: SocketAddr, log: &Path) -> anyhow::Result<Server> {
        cmd.stdout(log_file(log)?)
            .stderr(log_file(log)?)
            .kill_on_drop(true);
        let mut child = cmd.spawn().with_context(|| format!("cannot start {cmd:?}"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Server {
                    child,
                    addr,
                    ops_addr: None,
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the server exited ({status}) before listening; see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not listen within {START_TIMEOUT:?}; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory (VmHWM) in KiB of the server and, for a pre-forking server like
    /// gunicorn, its worker processes summed (an upper bound: forked workers share pages).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let mut total = vm_hwm_kib(pid)?;
        for child in children(pid) {
            total += vm_hwm_kib(child).unwrap_or(0);
        }
        Some(total)
    }

    /// CPU time (user + system) the server and its worker processes used so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.pid()?;
        let mut total = cpu_seconds(pid)?;
        for child in children(pid) {
            total += cpu_seconds(child).unwrap_or(0.0);
        }
        Some(total)
    }

    /// Stops the server: SIGTERM (graceful) or SIGKILL, then waits for it to be gone.
    pub async fn stop(mut self, graceful: bool) -> anyhow::Result<()> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        if graceful {
            // std can only SIGKILL; `kill` (util-linux/procps) sends the polite signal.
            let _ = std::process::Command::new("kill")
                .args(["-s", "TERM", &pid.to_string()])
                .status();
            if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
                .await
                .is_ok()
            {
                return Ok(());
            }
            eprintln!("  server {pid} ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
        }
        self.child.kill().await.context("cannot kill the server")?;
        Ok(())
    }
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// A loopback port free right now (for servers that cannot report the port they bound).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?)
}

/// `VmHWM` of `/proc/<pid>/status`, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The machine's 1-minute load average (`/proc/loadavg`).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) of process `pid` so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // utime and stime are the 14th and 15th fields of stat(5), 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks() as f64)
}

/// `CLK_TCK`, the unit of /proc's CPU times (100 on every Linux we run on; asked once).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Direct children of `pid`, from `/proc/*/stat`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| parent(p) == Some(pid))
        .collect()
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields after its last ')' do not.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(vm_hwm_kib(me).is_some_and(|k| k > 0));
        assert!(cpu_seconds(me).is_some());
        assert_eq!(parent(me), Some(std::os::unix::process::parent_id()));
        assert!(load_average().is_some());
    }
}
