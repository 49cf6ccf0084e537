//! Helpers shared by the command-line tests: running the binary, making keys and certificates.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

/// Runs `malipo` with `args`, extra environment and optional standard input.
pub fn malipo(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_malipo"));
    cmd.args(args)
        .env_remove("MALIPO_CONFIG")
        .env_remove("MALIPO_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the malipo binary runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    child.wait_with_output().expect("malipo finishes")
}

/// Standard output and error of a run, as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub use malipo_sim::mpesa::certificate::{make_cert, openssl_decrypt};
