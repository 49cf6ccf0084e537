//! `malipo security-credential` output decrypts with OpenSSL and the private key.

use crate::common::{make_cert, malipo, openssl_decrypt, text};

#[test]
fn credential_from_env_decrypts_with_openssl_pem_and_der() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem, der) = make_cert(dir.path(), "sandbox", "apisandbox.safaricom.example");
    for cert in [&pem, &der] {
        let out = malipo(
            &[
                "security-credential",
                "--cert",
                cert.to_str().unwrap(),
                "--password-env",
                "INITIATOR_PW",
            ],
            &[("INITIATOR_PW", "Safaricom999!*!")],
            None,
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        let credential = stdout.trim();
        // 2048-bit key: 256 bytes of ciphertext, 344 base64 characters.
        assert_eq!(credential.len(), 344, "{credential}");
        assert_eq!(openssl_decrypt(&key, credential, dir.path()), "Safaricom999!*!");
        assert!(!stderr.contains("Safaricom999"), "{stderr}");
    }
}

#[test]
fn credential_from_stdin_and_each_call_differs() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem, _) = make_cert(dir.path(), "c", "example");
    let run = || {
        let out = malipo(
            &["security-credential", "--cert", pem.to_str().unwrap()],
            &[],
            Some("stdin-pass-123\n"),
        );
        assert!(out.status.success(), "{}", text(&out).1);
        text(&out).0.trim().to_string()
    };
    let (a, b) = (run(), run());
    // PKCS#1 v1.5 padding is random: the same password never gives the same ciphertext twice.
    assert_ne!(a, b);
    assert_eq!(openssl_decrypt(&key, &a, dir.path()), "stdin-pass-123");
    assert_eq!(openssl_decrypt(&key, &b, dir.path()), "stdin-pass-123");
}

#[test]
fn errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_cert = dir.path().join("x.cer");
    std::fs::write(&not_a_cert, "hello").unwrap();
    let out = malipo(
        &[
            "security-credential",
            "--cert",
            not_a_cert.to_str().unwrap(),
            "--password-env",
            "PW",
        ],
        &[("PW", "x")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("not an X.509 certificate"),
        "{}",
        text(&out).1
    );

    let out = malipo(
        &["security-credential", "--cert", "/nonexistent/cert.cer"],
        &[],
        Some("x\n"),
    );
    assert!(
        text(&out)
            .1
            .contains("cannot read certificate /nonexistent/cert.cer"),
        "{}",
        text(&out).1
    );

    let (_, pem, _) = make_cert(dir.path(), "c", "example");
    let out = malipo(
        &[
            "security-credential",
            "--cert",
            pem.to_str().unwrap(),
            "--password-env",
            "SURELY_UNSET_PW_VAR",
        ],
        &[],
        None,
    );
    assert!(
        text(&out).1.contains("SURELY_UNSET_PW_VAR is not set"),
        "{}",
        text(&out).1
    );
    let out = malipo(
        &["security-credential", "--cert", pem.to_str().unwrap()],
        &[],
        Some("\n"),
    );
    assert!(text(&out).1.contains("password is empty"), "{}", text(&out).1);
}
