//! A whole deployment in a test: `malipo serve` processes and the merchant's app they deliver to.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// One request the merchant's app received: lower-case headers and body.
pub type Request = (Vec<(String, String)>, Vec<u8>);

/// The merchant's app: records every request (a thread per connection, as deliveries arrive
/// from several senders at once) and answers 204.
pub fn receiver() -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let store = store.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let len: usize = header(&headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                store.lock().unwrap().push((headers, body));
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            });
        }
    });
    (url, got)
}

/// The value of header `name` (lower case).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// How many times each `webhook-id` arrived.
pub fn by_webhook_id(got: &[Request]) -> HashMap<String, u32> {
    let mut seen = HashMap::new();
    for (headers, _) in got {
        if let Some(id) = header(headers, "webhook-id") {
            *seen.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    seen
}

/// A `malipo serve` process, killed (SIGKILL) when dropped.
pub struct Instance {
    pub child: Child,
    /// The public listener's base URL (callbacks and webhooks).
    pub base: String,
    /// The merchant API's.
    pub api: String,
    /// The operations routes' (`/metrics`, `/readyz`).
    pub ops: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `malipo serve` on `config` with every listener on a free loopback port, its log on
/// this test's stderr; returns once it listens.
pub fn start(config: &std::path::Path) -> Instance {
    start_with(config, &[], Stdio::inherit())
}

/// [`start`] with `env` added to its environment and its log sent to `log`.
pub fn start_with(config: &std::path::Path, env: &[(&str, &str)], log: Stdio) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["--log", "warn", "serve", "--bind", "127.0.0.1:0"])
        .args([
            "--api-bind",
            "127.0.0.1:0",
            "--ops-bind",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(config)
        .env_remove("MALIPO_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("malipo serve starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| {
        let line = lines
            .next()
            .expect("malipo serve prints where it listens")
            .unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .to_string()
    };
    let (base, api, ops) = (
        next("listening on "),
        next("api listening on "),
        next("ops listening on "),
    );
    Instance {
        child,
        base,
        api,
        ops,
    }
}

/// A Paystack `charge.success` delivery of transaction `id`, its reference `{prefix}-{id}`.
pub fn charge_success(prefix: &str, id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"charge.success","data":{{"id":{id},"status":"success","reference":"{prefix}-{id}","amount":10000,"currency":"NGN","customer":{{"email":"a@b.example"}}}}}}"#
    )
    .into_bytes()
}
