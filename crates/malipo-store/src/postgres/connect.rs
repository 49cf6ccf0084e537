//! The connection URL, TLS, and the pool.
//!
//! TLS is used when the URL says `sslmode=require`, `verify-ca` or `verify-full`, through
//! rustls with the Mozilla roots (`webpki-roots`) plus the certificates of `sslrootcert=FILE`
//! when given (a managed database's own CA). Unlike libpq's `require`, the certificate and host
//! name are always verified: a payments gateway should not send its database password to
//! whoever answers. Any other `sslmode` (or none) connects in plain text, which suits a
//! database on the same host or a private network.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::options::PostgresOptions;
use crate::StoreError;

/// Where and how to connect: the parsed URL (its password inside), the TLS connector, and a
/// description safe to print.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
    /// `postgres://user@host:port/db`, never with the password.
    pub(crate) described: String,
    /// The `SET`s every connection runs once connected (see [`session_settings`]).
    session: String,
}

/// Replaces the password of a `postgres://user:password@host/db` URL (and any `password=`
/// parameter) with `***`, for messages.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    // `password=…` as a URL parameter or in a key=value string.
    let mut redacted = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("password=") {
        let start = i + "password=".len();
        redacted.push_str(&rest[..start]);
        redacted.push_str("***");
        let end = rest[start..].find(['&', ' ']).map_or(rest.len(), |e| start + e);
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    redacted
}

/// Parses `url` and prepares TLS for it.
pub(crate) fn target(url: &str, options: &PostgresOptions) -> Result<Target, StoreError> {
    let invalid = |why: String| StoreError::Invalid(format!("the PostgreSQL URL {} {why}", redact(url)));
    let (url, root_cert) = take_our_params(url);
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| invalid(format!("is not valid: {e}")))?;
    // tokio-postgres defaults to `prefer`, which would try TLS; only an explicit `require`
    // (or `verify-*`, mapped to it) asks for TLS here.
    if config.get_ssl_mode() != SslMode::Require {
        config.ssl_mode(SslMode::Disable);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("malipo");
    }
    let session = session_settings(config.get_options(), options.statement_timeout);
    let tls = tls(root_cert.as_deref()).map_err(invalid)?;
    let described = describe(&config);
    Ok(Target {
        config,
        tls,
        described,
        session,
    })
}

/// The settings malipo gives every session, unless the URL's own `options` names them: a
/// statement timeout (see [`PostgresOptions::statement_timeout`]), and `client_min_messages =
/// warning`, since the notices of a healthy server (`relation "schema_migrations" already
/// exists, skipping` at every start) would otherwise reach every process's log at INFO.
///
/// They are `SET` once connected, not sent in the startup packet's `options` parameter: a
/// connection pooler in front of the server (PgBouncer) refuses a connection that sends
/// `options` with "unsupported startup parameter". A URL that sets `options` itself still sends
/// them, as written.
fn session_settings(url_options: Option<&str>, statement_timeout: Option<Duration>) -> String {
    let url_options = url_options.unwrap_or_default();
    let mut sets = Vec::new();
    if let Some(timeout) = statement_timeout {
        // In milliseconds, at least one: 0 would mean no limit.
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
        sets.push(("statement_timeout", ms.to_string()));
    }
    sets.push(("client_min_messages", "warning".to_owned()));
    sets.into_iter()
        .filter(|(name, _)| !url_options.contains(name))
        .map(|(name, value)| format!("SET {name} = {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Gives a new connection malipo's session settings (a [`Target`]'s `session`).
async fn start_session(client: &tokio_postgres::Client, session: &str) -> Result<(), tokio_postgres::Error> {
    if session.is_empty() {
        return Ok(());
    }
    client.batch_execute(session).await
}

/// Takes the parameters tokio-postgres does not know out of a URL: `sslrootcert`, and the
/// `sslmode`s `verify-ca`/`verify-full` (mapped to `require`, which verifies here) and `allow`
/// (mapped to `disable`).
fn take_our_params(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslrootcert", file)) => root_cert = Some(file.to_owned()),
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require".to_owned()),
            Some(("sslmode", "allow")) => kept.push("sslmode=disable".to_owned()),
            _ => kept.push(pair.to_owned()),
        }
    }
    if kept.is_empty() {
        (base.to_owned(), root_cert)
    } else {
        (format!("{base}?{}", kept.join("&")), root_cert)
    }
}

fn tls(root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = root_cert {
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("names sslrootcert={file}, which cannot be read: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("names sslrootcert={file}, which is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("names sslrootcert={file}, which holds an unusable certificate: {e}"))?;
        }
    }
    // ring, explicitly: both of rustls's crypto back-ends can end up enabled in one build.
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set TLS up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `postgres://user@host:port/db`, for logs and errors: everything but the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    let tls = if config.get_ssl_mode() == SslMode::Require {
        " (TLS)"
    } else {
        ""
    };
    format!("postgres://{user}@{host}:{port}/{db}{tls}")
}

/// How long a connection may sit unused before the pool asks the server whether it is still
/// there. Below it, a closed socket is still caught (`is_closed`: a restart or a terminated
/// backend ends the connection's task at once); above it, a round trip finds what a socket
/// cannot tell, such as a connection a NAT or firewall forgot while it was idle.
const VERIFY_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The pool: a connection idle for [`VERIFY_AFTER_IDLE`] or more is verified with a round trip
/// before reuse, so a server restart costs the requests in flight, never the connections
/// handed out afterwards; a busy connection is handed out again without one, which would
/// otherwise be one more round trip for every group commit and worker batch.
pub(crate) fn pool(target: &Target, options: &PostgresOptions) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        target.config.clone(),
        target.tls.clone(),
        ManagerConfig {
            // Checks `is_closed` only; the hook below adds the round trip when it is worth it.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let wait = options.connect_timeout.max(Duration::from_millis(1));
    let session: Arc<str> = target.session.as_str().into();
    Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .recycle_timeout(Some(wait))
        .post_create(Hook::async_fn(move |client, _| {
            let session = Arc::clone(&session);
            Box::pin(async move { start_session(client, &session).await.map_err(HookError::Backend) })
        }))
        .pre_recycle(Hook::async_fn(move |client, metrics| {
            Box::pin(async move {
                if metrics.last_used() < VERIFY_AFTER_IDLE {
                    return Ok(());
                }
                match tokio::time::timeout(wait, client.simple_query("")).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(HookError::Backend(e)),
                    Err(_) => Err(HookError::message("no answer to the check of an idle connection")),
                }
            })
        }))
        .build()
        .map_err(|e| StoreError::Invalid(format!("cannot build the PostgreSQL pool: {e}")))
}

/// One connection outside the pool (migrations, LISTEN), its driver task spawned.
pub(crate) async fn connect_one(target: &Target) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = target
        .config
        .connect(target.tls.clone())
        .await
        .map_err(|e| unreachable_error(target, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a PostgreSQL connection ended");
        }
    });
    start_session(&client, &target.session)
        .await
        .map_err(|e| unreachable_error(target, e))?;
    Ok(client)
}

/// One connection outside the pool whose asynchronous messages (notifications, notices) go to
/// `on_message`; the driver task ends, dropping `on_message`, when the connection does.
pub(crate) async fn connect_one_with(
    target: &Target,
    mut on_message: impl FnMut(tokio_postgres::AsyncMessage) + Send + 'static,
) -> Result<tokio_postgres::Client, StoreError> {
    let (client, mut connection) = target
        .config
        .connect(target.tls.clone())
        .await
        .map_err(|e| unreachable_error(target, e))?;
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(message)) => on_message(message),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "a PostgreSQL connection ended");
                    return;
                }
                None => return,
            }
        }
    });
    start_session(&client, &target.session)
        .await
        .map_err(|e| unreachable_error(target, e))?;
    Ok(client)
}

/// The error for a server that refused or did not answer a connection.
pub(crate) fn unreachable_error(target: &Target, e: tokio_postgres::Error) -> StoreError {
    use std::error::Error as _;
    let cause = e.source().map(|c| format!(": {c}")).unwrap_or_default();
    StoreError::Unavailable(format!("cannot connect to {}: {e}{cause}", target.described))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://malipo:s3cr:et@db.internal:5432/malipo?sslmode=require"),
            "postgres://malipo:***@db.internal:5432/malipo?sslmode=require"
        );
        assert_eq!(
            redact("postgres://malipo@db/m?password=hunter2&sslmode=require"),
            "postgres://malipo@db/m?password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=db password=hunter2 user=m"),
            "host=db password=*** user=m"
        );
        assert_eq!(redact("postgres://db/m"), "postgres://db/m");
    }

    #[test]
    fn a_bad_url_is_refused_without_its_password() {
        let err = target("postgres://u:hunter2@db:notaport/m", &PostgresOptions::default())
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("u:***@db"), "{text}");
    }

    #[test]
    fn sessions_get_a_statement_timeout_and_quiet_notices_unless_the_url_sets_them() {
        let options = PostgresOptions {
            statement_timeout: Some(Duration::from_millis(2_500)),
            ..PostgresOptions::default()
        };
        let plain = target("postgres://u@db/m", &options).unwrap();
        // Nothing in the startup packet that a pooler would refuse.
        assert_eq!(plain.config.get_options(), None);
        assert_eq!(
            plain.session,
            "SET statement_timeout = 2500; SET client_min_messages = warning"
        );
        let own = target(
            "postgres://u@db/m?options=-c%20statement_timeout%3D0%20-c%20search_path%3Dpay",
            &options,
        )
        .unwrap();
        assert_eq!(
            own.config.get_options(),
            Some("-c statement_timeout=0 -c search_path=pay")
        );
        assert_eq!(own.session, "SET client_min_messages = warning");
        let unlimited = PostgresOptions {
            statement_timeout: None,
            ..PostgresOptions::default()
        };
        let unlimited = target(
            "postgres://u@db/m?options=-c%20client_min_messages%3Dnotice",
            &unlimited,
        )
        .unwrap();
        assert_eq!(unlimited.session, "");
        let tiny = PostgresOptions {
            statement_timeout: Some(Duration::from_micros(10)),
            ..PostgresOptions::default()
        };
        // Zero would mean no limit at all.
        assert!(target("postgres://u@db/m", &tiny)
            .unwrap()
            .session
            .starts_with("SET statement_timeout = 1;"));
    }

    #[test]
    fn tls_only_when_asked_and_the_description_has_no_password() {
        let options = PostgresOptions::default();
        let plain = target("postgres://u:hunter2@db:5433/m", &options).unwrap();
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(plain.described, "postgres://u@db:5433/m");
        let tls = target("postgresql://u:hunter2@db/m?sslmode=verify-full", &options).unwrap();
        assert_eq!(tls.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(tls.described, "postgres://u@db:5432/m (TLS)");
        let missing = target(
            "postgres://u@db/m?sslmode=require&sslrootcert=/nonexistent.pem",
            &options,
        );
        assert!(matches!(missing, Err(StoreError::Invalid(_))));
    }
}
