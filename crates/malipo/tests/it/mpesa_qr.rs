//! `malipo mpesa qr` against the Daraja simulator: the PNG is written to a file, or printed as
//! base64; an argument Daraja would refuse is a usage error before anything is sent.

use std::time::Duration;

use malipo_sim::mpesa::{Endpoint, MpesaSim, SimConfig, SANDBOX_PASSKEY};

use crate::common::{malipo, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_writes_a_png_or_prints_base64() {
    let sim = MpesaSim::start(SimConfig::default().callback_delay(Duration::from_millis(20)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("malipo.toml");
    std::fs::write(
        &config,
        format!(
            "[mpesa]\nbase_url = \"{}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\nconsumer_secret = \"sim-consumer-secret\"\npasskey = \"{SANDBOX_PASSKEY}\"\n",
            sim.base_url()
        ),
    )
    .unwrap();
    let png = dir.path().join("pay.png");
    let (config, png_arg) = (config.display().to_string(), png.display().to_string());
    let run = move |extra: Vec<&'static str>, out: Option<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "--config".to_string(),
                config,
                "mpesa".into(),
                "qr".into(),
                "--merchant-name".into(),
                "TEST SUPERMARKET".into(),
                "--reference".into(),
                "INV-9".into(),
                "--cpi".into(),
                "373132".into(),
            ];
            args.extend(extra.into_iter().map(String::from));
            if let Some(out) = out {
                args.extend(["--out".to_string(), out]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            malipo(&args, &[], None)
        })
    };

    let out = run(vec!["--amount", "250", "--type", "bg"], Some(png_arg))
        .await
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("QR code written to"), "{stdout}");
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");

    let out = run(vec!["--amount", "250"], None).await.unwrap();
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(
        stdout.trim().starts_with("iVBORw0KGgo"),
        "base64 of a PNG: {stdout}"
    );

    // Cents: refused before sending, as a usage error.
    let out = run(vec!["--amount", "250.50"], None).await.unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("whole number of shillings"), "{stderr}");
    assert_eq!(sim.requests(Endpoint::DynamicQr), 2);
}
