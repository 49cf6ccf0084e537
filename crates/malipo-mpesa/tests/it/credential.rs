//! The `SecurityCredential`: the initiator password encrypted with the certificate's RSA key,
//! checked by decrypting it as Safaricom does (the `openssl` command, with a throwaway key).

use base64::Engine as _;
use malipo_core::Secret;
use malipo_mpesa::{check_ciphertext_len, CertEnvironment, CredentialError, DarajaCertificate};
use malipo_sim::mpesa::certificate::{make_cert, openssl_decrypt};

/// A throwaway certificate for `subject_cn` in a directory of its own, read from its PEM:
/// (the directory, the private key's path, the certificate).
fn certificate(subject_cn: &str) -> (tempfile::TempDir, std::path::PathBuf, DarajaCertificate) {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem, _) = make_cert(dir.path(), "test", subject_cn);
    let cert = DarajaCertificate::from_bytes(&std::fs::read(&pem).unwrap()).unwrap();
    (dir, key, cert)
}

fn b64(len: usize) -> Secret<String> {
    Secret::new(base64::engine::general_purpose::STANDARD.encode(vec![7u8; len]))
}

#[test]
fn the_credential_decrypts_to_the_password_and_has_the_keys_length() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem, der) = make_cert(dir.path(), "sandbox", "apisandbox.safaricom.et");
    let from_pem = DarajaCertificate::from_bytes(&std::fs::read(&pem).unwrap()).unwrap();
    let from_der = DarajaCertificate::from_bytes(&std::fs::read(&der).unwrap()).unwrap();
    for cert in [&from_pem, &from_der] {
        assert_eq!(cert.modulus_len(), 256, "a 2048-bit key");
        assert!(
            cert.subject().contains("CN=apisandbox.safaricom.et"),
            "{}",
            cert.subject()
        );
        assert_eq!(cert.environment(), CertEnvironment::Sandbox);
    }
    let password = Secret::new("Safaricom999!*!".to_string());
    let credential = from_pem.security_credential(&password).unwrap();
    assert_eq!(
        openssl_decrypt(&key, credential.expose(), dir.path()),
        "Safaricom999!*!"
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(credential.expose())
        .unwrap();
    assert_eq!(raw.len(), 256);
    from_pem.check_ciphertext_shape(&credential).unwrap();
    // PKCS#1 v1.5 padding is random: the same password never encrypts the same way twice.
    let again = from_der.security_credential(&password).unwrap();
    assert_ne!(again.expose(), credential.expose());
    assert_eq!(
        openssl_decrypt(&key, again.expose(), dir.path()),
        "Safaricom999!*!"
    );
}

#[test]
fn a_password_fits_in_the_key_less_eleven_bytes_of_padding() {
    let (dir, key, cert) = certificate("api.safaricom.co.ke");
    assert_eq!(cert.environment(), CertEnvironment::Production);
    let longest = "p".repeat(256 - 11);
    let credential = cert.security_credential(&Secret::new(longest.clone())).unwrap();
    assert_eq!(openssl_decrypt(&key, credential.expose(), dir.path()), longest);
    match cert.security_credential(&Secret::new("p".repeat(256 - 10))) {
        Err(CredentialError::PasswordTooLong { len, bits, max }) => {
            assert_eq!((len, bits, max), (246, 2048, 245))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        cert.security_credential(&Secret::new(String::new())),
        Err(CredentialError::EmptyPassword)
    ));
}

#[test]
fn a_plaintext_or_wrong_length_credential_is_refused_without_printing_it() {
    let (_dir, _, cert) = certificate("example.test");
    assert_eq!(cert.environment(), CertEnvironment::Unknown);
    let plain = Secret::new("Safaricom999!*!".to_string());
    let err = cert.check_ciphertext_shape(&plain).unwrap_err();
    assert!(
        err.contains("not base64") && !err.contains("Safaricom999"),
        "{err}"
    );
    let short = cert.check_ciphertext_shape(&b64(128)).unwrap_err();
    assert!(
        short.contains("decodes to 128 bytes") && short.contains("256-byte"),
        "{short}"
    );
    cert.check_ciphertext_shape(&b64(256)).unwrap();
    // Without a certificate: any common RSA modulus length, nothing else.
    for len in [128, 256, 384, 512] {
        check_ciphertext_len(&b64(len), None).unwrap();
    }
    for len in [0, 255, 257, 1024] {
        let err = check_ciphertext_len(&b64(len), None).unwrap_err();
        assert!(err.contains(&format!("decodes to {len} bytes")), "{err}");
    }
    assert!(check_ciphertext_len(&b64(384), Some(384)).is_ok());
    assert!(check_ciphertext_len(&b64(384), Some(256)).is_err());
}

#[test]
fn a_certificate_prints_its_subject_and_size_only() {
    let (_dir, _, cert) = certificate("apisandbox.safaricom.et");
    let printed = format!("{cert:?}");
    assert!(printed.contains("apisandbox.safaricom.et"), "{printed}");
    // It used to print the length in bytes under this name.
    assert!(printed.contains("modulus_bits: 2048"), "{printed}");
    assert!(matches!(
        DarajaCertificate::from_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n"),
        Err(CredentialError::NotACertificate(_))
    ));
    assert!(matches!(
        DarajaCertificate::from_bytes(b"\x30\x03\x02\x01\x00"),
        Err(CredentialError::NotACertificate(_))
    ));
}
