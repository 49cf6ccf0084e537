//! The leases a killed process left behind.
//!
//! A worker loop or delivery sender leases what it claims (jobs for a minute, deliveries for
//! the send's timeout and half a minute more). If its process is killed, that work waits for
//! the lease to run out before anyone takes it again. When every process using the store runs
//! on this machine (an SQLite file), a starting gateway can tell that the process behind a
//! lease is gone, and ends its leases: after a crash and a restart, the work resumes at once
//! instead of up to a minute later.
//!
//! An owner is named for its process and machine: `worker-1234@host` (the first worker loop
//! of process 1234 on `host`), `worker-1234-2@host`, `sender-1234@host` (whose delivery lanes
//! lease as `sender-1234@host/ep_…`). A lease is ended only when its owner's host is this
//! machine's hostname and no process with its id runs here (a zombie, killed and not yet
//! reaped, does not count). A container sharing the file has a hostname of its own, and its
//! processes are not visible here by id, so its leases are left to run out. An owner named
//! otherwise is left alone too.

use malipo_store::Store;

/// The lease owner's name for this process's `role` (`worker`, `sender`), the `index`th of
/// its kind (from 0; the first goes without).
pub(crate) fn owner_name(role: &str, index: usize) -> String {
    let pid = std::process::id();
    let host = hostname();
    match index {
        0 => format!("{role}-{pid}@{host}"),
        _ => format!("{role}-{pid}-{index}@{host}"),
    }
}

/// The process id and host an owner's name holds, if it is one of [`owner_name`]'s, also with
/// a `/…` suffix after the host (a delivery sender's lane: `sender-1234@host/ep_…`).
fn parse_owner(name: &str) -> Option<(u32, &str)> {
    let (who, host) = name.split_once('@')?;
    let host = host.split('/').next()?;
    let (_role, rest) = who.split_once('-')?;
    let pid = rest.split('-').next()?.parse().ok()?;
    Some((pid, host))
}

/// Ends the leases of this machine's processes that are gone; what the store cannot tell
/// (a server other machines may share) or fails to answer is left to run out.
pub(crate) async fn release_abandoned(store: &dyn Store) {
    if !store.is_machine_local() {
        return;
    }
    let owners = match store.lease_owners().await {
        Ok(owners) => owners,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the leases on claimed work; those of a process that died run out by themselves");
            return;
        }
    };
    let here = hostname();
    for owner in owners {
        let Some((pid, host)) = parse_owner(&owner) else {
            continue;
        };
        // This process runs, so its own leases are kept too.
        if host != here || is_running(pid) {
            continue;
        }
        match store.release_leases(&owner).await {
            Ok(n) => tracing::info!(
                owner = %owner,
                released = n,
                "released the claimed work of a process that is gone; it is due again"
            ),
            Err(e) => {
                tracing::warn!(owner = %owner, error = %e, "could not release the claimed work of a process that is gone; its leases run out by themselves")
            }
        }
    }
}

/// This machine's hostname, as `uname -n` prints it.
fn hostname() -> String {
    #[cfg(unix)]
    let name = rustix::system::uname().nodename().to_string_lossy().into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    name
}

/// Whether a process with this id runs on this machine (as any user). Where that cannot be
/// told, it is taken to run: a lease then runs out instead of being ended early.
fn is_running(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            return true;
        };
        // Signal 0 checks that the process exists without sending anything; EPERM means it
        // exists but belongs to another user.
        let exists = !matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        );
        // A killed process its parent has not reaped yet (a restart within a second of the
        // kill, under a supervisor slow to wait) still answers signal 0, as a zombie.
        exists && !is_zombie(pid.as_raw_nonzero().get())
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Whether the process is a zombie: dead, its exit status not yet collected (Linux's
/// `/proc/PID/stat`; elsewhere nothing is known, and it is not taken for one).
#[cfg(unix)]
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        // The state follows the command name, which is in parentheses and may hold anything.
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_carry_the_process_and_the_host() {
        let (pid, host) = (std::process::id(), hostname());
        assert_eq!(owner_name("worker", 0), format!("worker-{pid}@{host}"));
        assert_eq!(owner_name("worker", 2), format!("worker-{pid}-2@{host}"));
        assert_eq!(owner_name("sender", 0), format!("sender-{pid}@{host}"));
        for index in [0, 1, 7] {
            let name = owner_name("worker", index);
            assert_eq!(parse_owner(&name), Some((pid, host.as_str())), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_host_is_the_one_uname_names() {
        let uname = std::process::Command::new("uname").arg("-n").output().unwrap();
        let expected = String::from_utf8(uname.stdout).unwrap();
        assert_eq!(hostname(), expected.trim());
        assert!(!hostname().is_empty());
    }

    #[test]
    fn names_of_other_forms_are_not_read() {
        assert_eq!(parse_owner("worker-12@db-1.example"), Some((12, "db-1.example")));
        assert_eq!(parse_owner("sender-9-3@h"), Some((9, "h")));
        // Regression: a delivery lane's name, the sender's with its endpoint, was read as a
        // host named `h/ep_…`, and its leases were never released.
        assert_eq!(parse_owner("sender-9@h/ep_01JD3W8Q6M2K"), Some((9, "h")));
        for other in [
            "worker-1234",
            "w1",
            "worker@host",
            "worker-x@host",
            "worker--5@host",
            "worker-99999999999@host",
            "",
        ] {
            assert_eq!(parse_owner(other), None, "{other:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn this_process_runs_and_a_finished_one_does_not() {
        assert!(is_running(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_running(pid), "the reaped child {pid} is gone");
        // Killed and not yet reaped: a zombie, which is gone too.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        child.kill().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while is_running(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!is_running(pid), "the killed, unreaped child {pid} is gone");
        child.wait().unwrap();
        assert!(is_running(u32::MAX), "an id no process can have is not ruled out");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn only_a_gone_process_of_this_host_loses_its_leases() {
        use std::time::Duration;

        use malipo_core::Provider;
        use malipo_store::{EventStore as _, NewEvent, OpsStore as _, SqliteOptions, SqliteStore};

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("l.db"), SqliteOptions::default()).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let (me, host) = (std::process::id(), hostname());
        let owners = [
            format!("worker-{gone}@{host}"),
            format!("sender-{gone}@{host}/ep_01JD3W8Q6M2K"),
            format!("worker-{me}@{host}"),
            format!("worker-{gone}@elsewhere"),
            "worker-bench".to_string(),
        ];
        for (i, owner) in owners.iter().enumerate() {
            let event = NewEvent::received(Provider::Paystack, "charge.success", format!("k{i}"), &b"{}"[..]);
            store.ingest(event).await.unwrap();
            let claimed = store.claim_jobs(owner, 1, Duration::from_secs(60)).await.unwrap();
            assert_eq!(claimed.len(), 1, "{owner} holds one job");
        }
        release_abandoned(&store).await;
        let mut left = owners[2..].to_vec();
        left.sort();
        assert_eq!(
            store.lease_owners().await.unwrap(),
            left,
            "this process, another host's and a name of another form keep theirs"
        );
        assert_eq!(
            store
                .claim_jobs("next", 10, Duration::from_secs(60))
                .await
                .unwrap()
                .len(),
            2,
            "the gone process's two jobs are due at once"
        );
    }
}
