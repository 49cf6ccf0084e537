//! The README's "Run it yourself" section, run as written: its commands, between the
//! `run-it-yourself` markers, are run in order with the built `malipo` first on `PATH`, in a
//! directory holding `examples/local.toml`, and what each prints on standard output is checked
//! against the lines the README shows under it.
//!
//! The only liberty taken: the ports the section uses (9001, 9002, 8080, 8081, 9090) are swapped for
//! free ones, in the commands, the expected output and the copy of `examples/local.toml`, so
//! the test runs beside anything else on the machine. `cargo install` is not run (the binary
//! under test stands in for the installed one).
//!
//! Expected output: each README line matches one output line, whitespace runs counting as one
//! space and `…` standing for any text; a line of `…` alone stands for any number of lines.
//! `malipo sim` and `malipo serve` keep running: they are started in the background, and the
//! next step waits until their output matches. A listing that shows what a callback changed is
//! run again (for up to 20 s) until it matches, as a person would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The ports the README's section uses, in the order of [`free_ports`].
const README_PORTS: [u16; 5] = [9001, 9002, 8080, 8081, 9090];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One `$ command` of the section and the lines shown under it.
#[derive(Debug, Clone)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The steps between the markers, from the ```console blocks, in order.
fn steps(readme: &str) -> Vec<Step> {
    let begin = readme
        .find("<!-- run-it-yourself:begin -->")
        .expect("the README has the run-it-yourself begin marker");
    let end = readme
        .find("<!-- run-it-yourself:end -->")
        .expect("the README has the run-it-yourself end marker");
    let section = &readme[begin..end];
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_console = line.trim() == "```console" && !in_console;
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.trim().to_string(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        } else {
            panic!("output before any command in the run-it-yourself section: {line:?}");
        }
    }
    steps
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `line` matches `pattern`, where `…` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let (pattern, line) = (collapse(pattern), collapse(line));
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `output` is what `expected` shows: every line matched in order, other lines only
/// where a lone `…` allows them. With `complete` false the output may still grow: a match of
/// every expected line is enough.
fn output_matches(expected: &[String], output: &[String], complete: bool) -> bool {
    fn go(expected: &[String], output: &[String], complete: bool) -> bool {
        match expected.split_first() {
            None => output.is_empty() || !complete,
            Some((e, rest)) if e.trim() == "…" => {
                (0..=output.len()).any(|skip| go(rest, &output[skip..], complete))
            }
            Some((e, rest)) => match output.split_first() {
                Some((o, more)) => line_matches(e, o) && go(rest, more, complete),
                None => false,
            },
        }
    }
    let output: Vec<String> = output.iter().filter(|l| !l.trim().is_empty()).cloned().collect();
    let expected: Vec<String> = expected
        .iter()
        .filter(|l| !l.trim().is_empty())
        .cloned()
        .collect();
    go(&expected, &output, complete)
}

fn free_ports() -> [u16; 5] {
    let listeners: Vec<std::net::TcpListener> = (0..5)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().unwrap().port()).collect();
    [ports[0], ports[1], ports[2], ports[3], ports[4]]
}

fn swap_ports(text: &str, ports: &[u16; 5]) -> String {
    let mut out = text.to_string();
    for (old, new) in README_PORTS.iter().zip(ports) {
        out = out
            .replace(&format!("127.0.0.1:{old}"), &format!("127.0.0.1:{new}"))
            .replace(&format!("--port {old}"), &format!("--port {new}"));
    }
    out
}

/// A shell in the work directory with the built binary first on `PATH` and no `MALIPO_*`
/// variable from the caller.
fn shell(dir: &Path, command: &str) -> Command {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_malipo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir];
    paths.extend(std::env::split_paths(&path));
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("MALIPO_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A program that keeps running, and the lines it printed so far.
struct Background {
    command: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    fn start(dir: &Path, command: &str) -> Background {
        // `exec`: the program itself is the child, so killing it ends it.
        let mut child = shell(dir, &format!("exec {command}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            command: command.to_string(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until what it printed shows `expected`.
    fn wait_for(&mut self, expected: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !output_matches(expected, &self.seen, false) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "`{}` ended ({status}) after printing {:#?}",
                    self.command, self.seen
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "`{}` printed {:#?}, not what the README shows: {expected:#?}",
                self.command,
                self.seen
            );
            if let Ok(line) = self.lines.recv_timeout(left.min(Duration::from_millis(200))) {
                self.seen.push(line);
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runs_until_stopped(command: &str) -> bool {
    command.starts_with("malipo sim ") || command.starts_with("malipo serve")
}

#[test]
fn the_section_has_the_steps_a_newcomer_needs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let steps = steps(&readme);
    let commands: Vec<&str> = steps.iter().map(|s| s.command.as_str()).collect();
    for needed in [
        "cargo install --locked --path crates/malipo",
        "malipo sim mpesa --port 9001",
        "malipo serve --config examples/local.toml",
    ] {
        assert!(
            commands.contains(&needed),
            "{needed:?} is not a step: {commands:#?}"
        );
    }
    for command in &commands {
        assert!(
            command.starts_with("malipo ")
                || command.starts_with("curl ")
                || command.starts_with("cargo install "),
            "a step the test does not know how to run: {command:?}"
        );
    }
    assert!(
        steps
            .iter()
            .all(|s| s.command.starts_with("cargo ") || !s.expected.is_empty()),
        "every step shows what it prints"
    );
}

#[test]
fn matching_follows_the_readme_conventions() {
    assert!(line_matches(
        "pay_…  mpesa  succeeded",
        "pay_01ABC mpesa     succeeded"
    ));
    assert!(line_matches("event …, id …, KES 1.00", "event x, id 7, KES 1.00"));
    assert!(!line_matches("state: pending", "state: succeeded"));
    assert!(!line_matches("a…b", "ab-c"));
    let out = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(output_matches(
        &out(&["a", "…", "c"]),
        &out(&["a", "b", "b", "c"]),
        true
    ));
    assert!(!output_matches(&out(&["a", "c"]), &out(&["a", "b", "c"]), true));
    assert!(!output_matches(&out(&["a"]), &out(&["a", "b"]), true));
    assert!(output_matches(&out(&["a"]), &out(&["a", "b"]), false));
}

#[test]
fn run_it_yourself_works_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let ports = free_ports();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::create_dir_all(dir.path().join("target")).unwrap();
    let local = std::fs::read_to_string(repo_root().join("examples/local.toml")).unwrap();
    std::fs::write(dir.path().join("examples/local.toml"), swap_ports(&local, &ports)).unwrap();

    let mut running: Vec<Background> = Vec::new();
    for step in steps(&readme) {
        let command = swap_ports(&step.command, &ports);
        let expected: Vec<String> = step.expected.iter().map(|l| swap_ports(l, &ports)).collect();
        if command.starts_with("cargo install ") {
            assert_eq!(command, "cargo install --locked --path crates/malipo");
            assert!(repo_root().join("crates/malipo/Cargo.toml").exists());
            continue;
        }
        if runs_until_stopped(&command) {
            let mut program = Background::start(dir.path(), &command);
            program.wait_for(&expected);
            running.push(program);
            continue;
        }
        let retry = command.contains(" list");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = shell(dir.path(), &command).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
            if out.status.success() && output_matches(&expected, &lines, true) {
                break;
            }
            assert!(
                retry && Instant::now() < deadline,
                "`{command}` ({}) printed\n{stdout}\n{}\nnot what the README shows:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                expected.join("\n")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    assert!(running.len() >= 3, "both simulators and the gateway ran");
    // Everything it created stayed in the work directory's target/.
    assert!(dir.path().join("target/malipo-local.db").exists());
}
