//! A stand-in for Safaricom's certificate: a throwaway RSA key and self-signed certificate made
//! with the `openssl` command, and the decryption Safaricom does, for tests of the
//! `SecurityCredential` (the initiator password encrypted with the certificate's key).
//!
//! These shell out to `openssl` and panic when it fails: they are for tests, never for serving.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A throwaway RSA key and self-signed certificate made with the openssl command, as the tests'
/// stand-in for Safaricom's certificate. Returns (key.pem, cert.pem, cert.der).
pub fn make_cert(dir: &Path, name: &str, subject_cn: &str) -> (PathBuf, PathBuf, PathBuf) {
    let key = dir.join(format!("{name}-key.pem"));
    let pem = dir.join(format!("{name}-cert.pem"));
    let der = dir.join(format!("{name}-cert.der"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&pem)
        .args(["-subj", &format!("/O=Test/CN={subject_cn}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed")
        .success();
    assert!(ok, "openssl req failed");
    let ok = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&der)
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl x509 failed");
    (key, pem, der)
}

/// Decrypts a base64 SecurityCredential with the private key using the openssl command.
pub fn openssl_decrypt(key: &Path, credential_b64: &str, dir: &Path) -> String {
    use base64::Engine as _;
    let cipher = base64::engine::general_purpose::STANDARD
        .decode(credential_b64.trim())
        .expect("the credential is base64");
    let input = dir.join("cipher.bin");
    std::fs::write(&input, cipher).unwrap();
    let out = Command::new("openssl")
        .args([
            "pkeyutl",
            "-decrypt",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(key)
        .arg("-in")
        .arg(&input)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl decrypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 password")
}
