//! The rules, one function each, in the order the report prints them.

use ipnet::IpNet;
use malipo_config::{Config, Database, Environment, SecretRef};
use malipo_mpesa::{check_ciphertext_len, CertEnvironment, DarajaCertificate};
use url::Url;

use crate::Finding;

type Rule = fn(&Config) -> Vec<Finding>;

/// Every rule, in report order.
const RULES: &[Rule] = &[
    callback_urls_https,
    provider_urls_https,
    source_ip_verification,
    allowlists,
    rate_limits,
    no_literal_secrets,
    secrets_resolve,
    security_credential,
    certificate_environment,
    paystack_key_environment,
    merchant_webhook,
    c2b_validation,
    api_listener,
    ops_listener,
    shared_database,
    database_workers,
    debug_logging,
];

/// Runs the rules, handing each finding to `emit`; stops when `emit` returns false.
pub fn run_all(config: &Config, emit: &mut dyn FnMut(Finding) -> bool) {
    for rule in RULES {
        for finding in rule(config) {
            if !emit(finding) {
                return;
            }
        }
    }
}

/// Whether real money moves: the deployment or its M-Pesa section is in production.
pub fn production(config: &Config) -> bool {
    config.environment == Environment::Production
        || config
            .mpesa
            .as_ref()
            .is_some_and(|m| m.environment == Some(Environment::Production))
}

fn is_local_or_tunnel(url: &Url) -> bool {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "[::1]"
        || host == "0.0.0.0"
        || ["ngrok", "localtunnel", "loca.lt", "trycloudflare", "serveo"]
            .iter()
            .any(|t| host.contains(t))
}

fn callback_urls_https(config: &Config) -> Vec<Finding> {
    const RULE: &str = "callback-urls-https";
    let uses_callbacks = config.mpesa.is_some() || config.paystack.is_some();
    let Some(url) = &config.server.public_base_url else {
        return vec![if production(config) && uses_callbacks {
            Finding::fail(
                RULE,
                "server.public_base_url is not set, so no callback URL can be given to the providers",
                "set server.public_base_url to the https URL Safaricom and Paystack reach this server at",
            )
        } else {
            Finding::warn(
                RULE,
                "server.public_base_url is not set",
                "set it to this server's public https URL before going live",
            )
        }];
    };
    let mut out = Vec::new();
    if url.scheme() != "https" {
        out.push(if production(config) {
            Finding::fail(
                RULE,
                format!("callback URLs would use {}:// ({url})", url.scheme()),
                "use an https:// server.public_base_url in production (Daraja and Paystack send payment data to it)",
            )
        } else {
            Finding::warn(RULE, format!("callback URLs use {}:// ({url})", url.scheme()), "use https before going live")
        });
    } else if production(config) && is_local_or_tunnel(url) {
        out.push(Finding::fail(
            RULE,
            format!("server.public_base_url {url} is a local address or a tunnel"),
            "use the production host name providers can reach directly",
        ));
    } else {
        out.push(Finding::pass(RULE, format!("callback URLs use https ({url})")));
    }
    // Daraja refuses to register URLs containing these words (C2B register URL).
    let lowered = url.as_str().to_ascii_lowercase();
    if config.mpesa.is_some() {
        if let Some(word) = ["mpesa", "m-pesa", "safaricom", "exec", "cmd", "sql", "query"]
            .into_iter()
            .find(|w| lowered.contains(w))
        {
            out.push(Finding::warn(
                "callback-urls-daraja-words",
                format!("server.public_base_url contains {word:?}, which Daraja refuses in registered URLs"),
                "serve malipo under a host and path without the words mpesa, safaricom, exec, cmd, sql or query",
            ));
        }
    }
    out
}

fn provider_urls_https(config: &Config) -> Vec<Finding> {
    const RULE: &str = "provider-urls-https";
    let mut out = Vec::new();
    let mut check = |name: &str, url: Url| {
        if url.scheme() == "https" {
            out.push(Finding::pass(RULE, format!("{name} API at {url}")));
        } else if production(config) {
            out.push(Finding::fail(
                RULE,
                format!("{name} API base URL {url} is not https"),
                format!(
                    "remove {}.base_url (the official https URL is the default) in production",
                    name.to_ascii_lowercase()
                ),
            ));
        } else {
            out.push(Finding::warn(
                RULE,
                format!("{name} API base URL {url} is not https (a simulator?)"),
                "fine for local work; production needs the provider's https URL",
            ));
        }
    };
    if let Some(m) = &config.mpesa {
        check("M-Pesa", m.api_base_url());
    }
    if let Some(p) = &config.paystack {
        check("Paystack", p.api_base_url());
    }
    out
}

fn source_ip_verification(config: &Config) -> Vec<Finding> {
    const RULE: &str = "callback-source-ip-verification";
    let mut out = Vec::new();
    let mut check = |name: &str, key: &str, on: bool| {
        out.push(if on {
            Finding::pass(RULE, format!("{name} callback source addresses are verified"))
        } else if production(config) {
            Finding::fail(
                RULE,
                format!("{key} is false: anyone could post fake {name} confirmations"),
                format!("set {key} = true in production"),
            )
        } else {
            Finding::warn(RULE, format!("{key} is false"), "acceptable in development only")
        });
    };
    if let Some(m) = &config.mpesa {
        check(
            "M-Pesa",
            "mpesa.verify_callback_source_ip",
            m.verify_callback_source_ip,
        );
    }
    if let Some(p) = &config.paystack {
        check("Paystack", "paystack.verify_source_ip", p.verify_source_ip);
    }
    out
}

fn allowlists(config: &Config) -> Vec<Finding> {
    const RULE: &str = "allowlists-parse";
    let mut out = Vec::new();
    let mut check = |key: &str, nets: &[IpNet], on: bool| {
        let len = nets.len();
        let local: Vec<String> = nets
            .iter()
            .filter(|n| is_local_net(n))
            .map(ToString::to_string)
            .collect();
        out.push(if len == 0 && on {
            Finding::fail(
                RULE,
                format!("{key} is empty while verification is on: every callback would be refused"),
                format!("remove {key} to use the provider's published list"),
            )
        } else if !local.is_empty() && production(config) {
            Finding::fail(
                RULE,
                format!(
                    "{key} accepts callbacks from this machine or a private network ({}) in production",
                    local.join(", ")
                ),
                format!("remove {key} to use the provider's published list (loopback is for the local simulators)"),
            )
        } else if !local.is_empty() {
            Finding::warn(
                RULE,
                format!(
                    "{key} accepts callbacks from loopback or private addresses ({}), as the local simulators need",
                    local.join(", ")
                ),
                "allowed in sandbox only: production uses the provider's published list",
            )
        } else {
            Finding::pass(RULE, format!("{key}: {len} address ranges"))
        });
    };
    if let Some(m) = &config.mpesa {
        check("mpesa.callback_ips", &m.callback_ips, m.verify_callback_source_ip);
    }
    if let Some(p) = &config.paystack {
        check("paystack.webhook_ips", &p.webhook_ips, p.verify_source_ip);
    }
    out.push(Finding::pass(
        RULE,
        format!(
            "server.trusted_proxies: {} address ranges",
            config.server.trusted_proxies.len()
        ),
    ));
    out
}

/// Whether a range holds addresses no provider calls from: loopback, private, link-local,
/// unspecified, or the whole internet.
fn is_local_net(net: &IpNet) -> bool {
    use std::net::IpAddr;
    let local = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                // fc00::/7 (unique local) and fe80::/10 (link-local).
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    local(net.network())
        || net.contains(&IpAddr::from([127, 0, 0, 1]))
        || net.contains(&IpAddr::from([10, 0, 0, 1]))
        || net.contains(&IpAddr::from([192, 168, 0, 1]))
}

/// The key path of an account's table: `mpesa` for the section's own, `mpesa.accounts.NAME`
/// for a named one.
fn account_path(section: &str, name: &malipo_core::AccountName) -> String {
    if name.is_default() {
        section.to_string()
    } else {
        format!("{section}.accounts.{name}")
    }
}

/// Every secret reference with its key path, every account's included.
pub fn secret_refs(config: &Config) -> Vec<(String, SecretRef)> {
    let mut refs: Vec<(String, SecretRef)> = Vec::new();
    if let Some(k) = &config.server.callback_token_key {
        refs.push(("server.callback_token_key".into(), k.clone()));
    }
    if let Some(m) = &config.mpesa {
        for (name, a) in m.all_accounts() {
            let at = account_path("mpesa", &name);
            refs.push((format!("{at}.consumer_key"), a.consumer_key));
            refs.push((format!("{at}.consumer_secret"), a.consumer_secret));
            refs.push((format!("{at}.passkey"), a.passkey));
            if let Some(r) = a.initiator_password {
                refs.push((format!("{at}.initiator_password"), r));
            }
            if let Some(r) = a.security_credential {
                refs.push((format!("{at}.security_credential"), r));
            }
            if let Some(r) = a.c2b_validation.and_then(|v| v.signing_secret) {
                refs.push((format!("{at}.c2b_validation.signing_secret"), r));
            }
        }
    }
    if let Some(p) = &config.paystack {
        for (name, a) in p.all_accounts() {
            refs.push((
                format!("{}.secret_key", account_path("paystack", &name)),
                a.secret_key,
            ));
        }
    }
    if let Some(m) = &config.merchant {
        refs.push(("merchant.signing_secret".into(), m.signing_secret.clone()));
    }
    if let Some(t) = &config.ops.admin_token {
        refs.push(("ops.admin_token".into(), t.clone()));
    }
    refs
}

/// The merchant API starts payments and refunds: it belongs on a private address, apart from
/// the callback listener the providers reach.
fn api_listener(config: &Config) -> Vec<Finding> {
    const RULE: &str = "api-listener-private";
    let api = config.api.bind;
    let public = config.server.bind;
    let finding = if api == public
        || (api.port() == public.port() && (api.ip().is_unspecified() || public.ip().is_unspecified()))
    {
        Finding::fail(
            RULE,
            format!("api.bind {api} is the callback listener's address ({public})"),
            "give [api] bind its own address, such as 127.0.0.1:8081",
        )
    } else if api.ip().is_loopback() {
        Finding::pass(RULE, format!("the merchant API listens on {api} (loopback)"))
    } else if production(config) {
        Finding::warn(
            RULE,
            format!("the merchant API listens on {api}, beyond loopback"),
            "keep it reachable only from your own backend (a private network, a firewall rule)",
        )
    } else {
        Finding::pass(RULE, format!("the merchant API listens on {api}"))
    };
    vec![finding]
}

/// `/metrics` and `/readyz` describe the deployment (traffic, refusals, queue depth) and the
/// operations listener has no login: it belongs on loopback, apart from the other listeners.
fn ops_listener(config: &Config) -> Vec<Finding> {
    const RULE: &str = "ops-listener-private";
    let ops = config.ops.bind;
    let clash = |other: std::net::SocketAddr| {
        ops == other
            || (ops.port() == other.port() && (ops.ip().is_unspecified() || other.ip().is_unspecified()))
    };
    let finding = if clash(config.server.bind) || clash(config.api.bind) {
        Finding::fail(
            RULE,
            format!("ops.bind {ops} is another listener's address"),
            "give [ops] bind its own address, such as 127.0.0.1:9090",
        )
    } else if ops.ip().is_loopback() {
        Finding::pass(
            RULE,
            format!("/metrics, /healthz and /readyz listen on {ops} (loopback)"),
        )
    } else if config.ops.admin_token.is_some() {
        Finding::warn(
            RULE,
            format!(
                "the dashboard (with its login) and /metrics (without one) listen on {ops}, beyond loopback"
            ),
            "keep [ops] reachable only from your operators' network",
        )
    } else if production(config) {
        Finding::fail(
            RULE,
            format!("/metrics and /readyz listen on {ops}, beyond loopback, with no login"),
            "bind [ops] to 127.0.0.1 and scrape from this host (an agent, or a proxy that authenticates)",
        )
    } else {
        Finding::warn(
            RULE,
            format!("/metrics and /readyz listen on {ops}, beyond loopback, with no login"),
            "bind [ops] to 127.0.0.1 before going live",
        )
    };
    vec![finding]
}

/// More than one worker loop: useful on PostgreSQL while the pool keeps connections for the
/// requests; on SQLite the loops only queue for the one writer (and take turns acknowledging
/// webhooks with it).
fn database_workers(config: &Config) -> Vec<Finding> {
    const RULE: &str = "database-workers";
    let workers = config.database.workers.get();
    if workers == 1 {
        return Vec::new();
    }
    let finding = match config.database.backend() {
        Ok(Database::Postgres { .. }) => {
            let pool = config.database.pool_size;
            if workers * 2 > pool {
                Finding::warn(
                    RULE,
                    format!(
                        "database.workers = {workers} may hold {workers} of the pool's {pool} connections, leaving too few for webhooks and the API"
                    ),
                    format!("set [database] pool_size to at least {}, or fewer workers", workers * 2),
                )
            } else {
                Finding::pass(
                    RULE,
                    format!("{workers} worker loops, at most {workers} of the pool's {pool} connections"),
                )
            }
        }
        _ => Finding::warn(
            RULE,
            format!(
                "database.workers = {workers} on SQLite: the loops only queue for its one writer, taking its time from acknowledging webhooks"
            ),
            "remove [database] workers (1 is the default); it helps on PostgreSQL",
        ),
    };
    vec![finding]
}

/// A PostgreSQL database is shared by several instances: they must mint and check the same
/// callback URL tokens (a key file beside one instance's database cannot serve the others), and
/// its password belongs in a secret reference, not in the URL in the file.
fn shared_database(config: &Config) -> Vec<Finding> {
    const RULE: &str = "shared-database";
    let Ok(db @ Database::Postgres { .. }) = config.database.backend() else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    if config.server.callback_token_key.is_none() {
        findings.push(Finding::fail(
            RULE,
            "database.url is PostgreSQL but server.callback_token_key is not set: instances cannot check each other's callback tokens",
            "set [server] callback_token_key = { env = \"MALIPO_CALLBACK_TOKEN_KEY\" }, the same on every instance",
        ));
    }
    if db.url_has_password() {
        let fix =
            "remove the password from database.url and set [database] password = { env = \"PGPASSWORD\" }";
        findings.push(if production(config) {
            Finding::fail(
                RULE,
                format!("database.url {} holds a password in the clear", db.redacted()),
                fix,
            )
        } else {
            Finding::warn(
                RULE,
                format!("database.url {} holds a password in the clear", db.redacted()),
                fix,
            )
        });
    }
    if findings.is_empty() {
        findings.push(Finding::pass(
            RULE,
            format!(
                "{} is shared with a common callback token key, its password not in the URL",
                db.redacted()
            ),
        ));
    }
    findings
}

fn rate_limits(config: &Config) -> Vec<Finding> {
    const RULE: &str = "rate-limit-configured";
    // Daraja does not resend an STK callback that was refused, so a limit low enough to refuse a
    // real burst loses confirmations (the reconciler's query is then the only way back).
    const LOWEST_SAFE: u32 = 100;
    let mut out = Vec::new();
    let mut check = |name: &str,
                     key: &str,
                     limit: Option<malipo_config::RateLimit>,
                     default: malipo_guard::RateLimit| {
        out.push(match limit {
            None => Finding::pass(
                RULE,
                format!(
                    "{name} callbacks: built-in limit of {}/s, burst {}, per client address",
                    default.rate(),
                    default.burst()
                ),
            ),
            Some(l) if l.per_second == 0 || l.burst == 0 => Finding::fail(
                RULE,
                format!("{key} has a zero rate or burst, which would refuse every callback"),
                format!("remove {key} to use the built-in limit, or give positive numbers"),
            ),
            Some(l) if l.per_second < LOWEST_SAFE => Finding::warn(
                RULE,
                format!("{key} allows only {}/s per client address: a real {name} burst could be refused", l.per_second),
                format!("allow at least {LOWEST_SAFE}/s (all of a provider's callbacks come from a handful of addresses)"),
            ),
            Some(l) => Finding::pass(
                RULE,
                format!("{name} callbacks: {}/s, burst {}, per client address", l.per_second, l.burst),
            ),
        });
    };
    if let Some(m) = &config.mpesa {
        check(
            "M-Pesa",
            "mpesa.rate_limit",
            m.rate_limit,
            malipo_guard::RateLimit::MPESA_DEFAULT,
        );
    }
    if let Some(p) = &config.paystack {
        check(
            "Paystack",
            "paystack.rate_limit",
            p.rate_limit,
            malipo_guard::RateLimit::PAYSTACK_DEFAULT,
        );
    }
    out
}

fn no_literal_secrets(config: &Config) -> Vec<Finding> {
    const RULE: &str = "no-literal-secrets";
    let (from_env, literals): (Vec<String>, Vec<String>) = secret_refs(config)
        .into_iter()
        .filter(|(_, r)| r.is_literal())
        .map(|(k, _)| k)
        .partition(|k| config.overridden_by(k).is_some());
    // A `MALIPO_*` variable holding the value itself comes from the environment, as a
    // reference's would: nothing of it is in the file.
    let mut findings: Vec<Finding> = from_env
        .iter()
        .map(|key| {
            let var = config.overridden_by(key).unwrap_or_default();
            Finding::pass(RULE, format!("{key} comes from the environment ({var})"))
        })
        .collect();
    if literals.is_empty() {
        if findings.is_empty() {
            findings.push(Finding::pass(
                RULE,
                "every secret is a reference ({ env }, { file } or { command })",
            ));
        }
        return findings;
    }
    findings.extend(literals
        .into_iter()
        .map(|key| {
            if production(config) {
                Finding::fail(
                    RULE,
                    format!("{key} is written in the config file"),
                    format!("replace it with {key} = {{ env = \"VAR\" }} or {{ file = \"/run/secrets/…\" }} and rotate the exposed value"),
                )
            } else {
                Finding::warn(RULE, format!("{key} is a literal (allowed in sandbox only)"), "use a reference before going live")
            }
        }));
    findings
}

fn secrets_resolve(config: &Config) -> Vec<Finding> {
    const RULE: &str = "secret-references-resolve";
    let production = production(config);
    secret_refs(config)
        .into_iter()
        .filter(|(_, r)| !r.is_literal())
        .map(|(key, r)| match r.resolve() {
            Ok(_) => match (&r, world_readable(&r)) {
                (SecretRef::File(path), Some(mode)) if production => Finding::warn(
                    RULE,
                    format!(
                        "{key}: file {} can be read by every user of the machine (mode {mode:o})",
                        path.display()
                    ),
                    format!(
                        "chmod 600 {} (or 640, with malipo's user in the file's group)",
                        path.display()
                    ),
                ),
                _ => Finding::pass(RULE, format!("{key} from {r} is set")),
            },
            Err(e) => Finding::fail(RULE, format!("{key}: {e}"), resolve_fix(&r)),
        })
        .collect()
}

/// What to do about a reference that does not resolve, by its kind.
fn resolve_fix(r: &SecretRef) -> String {
    match r {
        SecretRef::Env(var) => format!("set {var} (non-empty) wherever malipo runs"),
        SecretRef::File(path) => format!(
            "put the secret in {} (non-empty), readable by malipo's user (chmod 600, owned by it)",
            path.display()
        ),
        SecretRef::Command(c) => format!(
            "make {:?} print the secret and exit 0 where malipo runs (try it by hand as malipo's user)",
            c.program()
        ),
        SecretRef::Literal(_) => "write the secret as a reference".to_string(),
    }
}

/// The permission bits of a secret file every user can read, if it is one.
fn world_readable(r: &SecretRef) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let SecretRef::File(path) = r else {
            return None;
        };
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o004 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = r;
        None
    }
}

fn load_certificate(path: &std::path::Path) -> Result<DarajaCertificate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    DarajaCertificate::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn security_credential(config: &Config) -> Vec<Finding> {
    let Some(m) = &config.mpesa else { return vec![] };
    m.all_accounts()
        .iter()
        .flat_map(|(name, a)| account_security_credential(&account_path("mpesa", name), a))
        .collect()
}

fn account_security_credential(at: &str, m: &malipo_config::MpesaAccountConfig) -> Vec<Finding> {
    const RULE: &str = "security-credential-is-ciphertext";
    let Some(reference) = &m.security_credential else {
        return match &m.initiator_name {
            Some(_) if m.initiator_password.is_none() => vec![Finding::warn(
                RULE,
                format!("{at}.initiator_name is set but there is no security credential: B2C, status, balance and reversal will fail"),
                format!("run `malipo security-credential --cert CERT` and set {at}.security_credential to a reference holding its output"),
            )],
            _ => vec![],
        };
    };
    let Ok(value) = reference.resolve() else {
        // secrets_resolve already reports the missing value.
        return vec![];
    };
    let expected = m
        .certificate
        .as_deref()
        .map(load_certificate)
        .and_then(Result::ok)
        .map(|c| c.modulus_len());
    match check_ciphertext_len(&value, expected) {
        Ok(()) => vec![Finding::pass(RULE, format!("{at}.security_credential is RSA ciphertext of the right length"))],
        Err(why) => vec![Finding::fail(
            RULE,
            format!("{at}.security_credential is not an encrypted credential: {why}"),
            "generate it with `malipo security-credential --cert <Safaricom certificate>` (never configure the plaintext initiator password)",
        )],
    }
}

fn certificate_environment(config: &Config) -> Vec<Finding> {
    let Some(m) = &config.mpesa else { return vec![] };
    let env = m.environment.unwrap_or(config.environment);
    m.all_accounts()
        .iter()
        .flat_map(|(name, a)| account_certificate(&account_path("mpesa", name), a, env))
        .collect()
}

fn account_certificate(at: &str, m: &malipo_config::MpesaAccountConfig, env: Environment) -> Vec<Finding> {
    const RULE: &str = "certificate-matches-environment";
    let Some(path) = &m.certificate else {
        return if m.security_credential.is_some() && env == Environment::Production {
            vec![Finding::warn(
                RULE,
                format!("{at}.certificate is not set, so the security credential cannot be checked against the production certificate"),
                format!("set {at}.certificate to Safaricom's production certificate"),
            )]
        } else {
            vec![]
        };
    };
    let cert = match load_certificate(path) {
        Ok(c) => c,
        Err(e) => {
            return vec![Finding::fail(
                RULE,
                format!("{at}.certificate: {e}"),
                "give the PEM or DER certificate downloaded from the Daraja portal",
            )]
        }
    };
    let mut out = Vec::new();
    match (cert.environment(), env) {
        (CertEnvironment::Sandbox, Environment::Production) => out.push(Finding::fail(
            RULE,
            format!("{at}.certificate is Safaricom's sandbox certificate ({}) but the environment is production", cert.subject()),
            "use the production certificate from the Daraja portal and regenerate the security credential with it",
        )),
        (CertEnvironment::Production, Environment::Sandbox) => out.push(Finding::fail(
            RULE,
            format!("{at}.certificate is Safaricom's production certificate ({}) but the environment is sandbox", cert.subject()),
            "use the sandbox certificate, or set environment = \"production\"",
        )),
        (CertEnvironment::Unknown, _) => out.push(Finding::warn(
            RULE,
            format!("cannot tell which environment certificate {} belongs to", cert.subject()),
            "use the certificate Safaricom publishes for this environment",
        )),
        _ => out.push(Finding::pass(RULE, format!("certificate {} is the {} one", cert.subject(), env.as_str()))),
    }
    out
}

fn paystack_key_environment(config: &Config) -> Vec<Finding> {
    let Some(p) = &config.paystack else { return vec![] };
    p.all_accounts()
        .iter()
        .flat_map(|(name, a)| account_paystack_key(config, &account_path("paystack", name), &a.secret_key))
        .collect()
}

fn account_paystack_key(config: &Config, at: &str, secret_key: &SecretRef) -> Vec<Finding> {
    const RULE: &str = "paystack-key-matches-environment";
    let Ok(key) = secret_key.resolve() else {
        return vec![];
    };
    let key = key.expose();
    let live = key.starts_with("sk_live_");
    let test = key.starts_with("sk_test_");
    vec![match (production(config), live, test) {
        (true, true, _) | (false, _, true) => {
            Finding::pass(RULE, format!("{at}.secret_key matches the environment"))
        }
        (true, false, true) => Finding::fail(
            RULE,
            format!("{at}.secret_key is a Paystack test key (sk_test_…) in production"),
            "use the live secret key (sk_live_…) from the Paystack dashboard",
        ),
        (false, true, _) => Finding::warn(
            RULE,
            format!("{at}.secret_key is a live Paystack key (sk_live_…) in sandbox: real money can move"),
            "use the test secret key while environment = \"sandbox\"",
        ),
        _ => Finding::warn(
            RULE,
            format!("{at}.secret_key does not start with sk_test_ or sk_live_"),
            "check you configured the secret key, not the public key",
        ),
    }]
}

fn merchant_webhook(config: &Config) -> Vec<Finding> {
    const RULE: &str = "merchant-webhook";
    let Some(m) = &config.merchant else {
        return vec![Finding::warn(
            RULE,
            "no [merchant] section: verified events are stored but forwarded nowhere",
            "set merchant.webhook_url and merchant.signing_secret",
        )];
    };
    let mut out = Vec::new();
    if m.webhook_url.scheme() != "https" && production(config) {
        out.push(Finding::fail(
            RULE,
            format!("merchant.webhook_url {} is not https", m.webhook_url),
            "use an https endpoint",
        ));
    } else {
        out.push(Finding::pass(
            RULE,
            format!("events are forwarded to {}", m.webhook_url),
        ));
    }
    if m.allow_private_targets && production(config) {
        out.push(Finding::fail(
            RULE,
            "merchant.allow_private_targets is true in production (server-side request forgery)",
            "set merchant.allow_private_targets = false",
        ));
    }
    if let Ok(secret) = m.signing_secret.resolve() {
        if !secret.expose().starts_with("whsec_") {
            out.push(Finding::fail(
                RULE,
                "merchant.signing_secret is not a Standard Webhooks secret",
                "use `whsec_` followed by base64 of at least 24 random bytes",
            ));
        }
    }
    out
}

/// Daraja waits only a few seconds for a validation answer, and the merchant's app decides
/// whether money is taken: its URL is held to the same rules as the delivery endpoint.
fn c2b_validation(config: &Config) -> Vec<Finding> {
    let Some(m) = &config.mpesa else { return vec![] };
    m.all_accounts()
        .iter()
        .filter_map(|(name, a)| Some((account_path("mpesa", name), a.c2b_validation.as_ref()?)))
        .flat_map(|(at, v)| account_c2b_validation(config, &at, v))
        .collect()
}

fn account_c2b_validation(config: &Config, at: &str, v: &malipo_config::C2bValidationConfig) -> Vec<Finding> {
    const RULE: &str = "c2b-validation";
    let mut out = Vec::new();
    if v.url.scheme() != "https" && production(config) {
        out.push(Finding::fail(
            RULE,
            format!("{at}.c2b_validation.url {} is not https", v.url),
            "use an https endpoint",
        ));
    } else {
        out.push(Finding::pass(
            RULE,
            format!(
                "C2B validations are decided by {} (fallback: {} after {} ms)",
                v.url,
                v.fallback.as_str(),
                v.timeout.as_millis()
            ),
        ));
    }
    if v.allow_private_target == Some(true) && production(config) {
        out.push(Finding::fail(
            RULE,
            format!("{at}.c2b_validation.allow_private_target is true in production (server-side request forgery)"),
            "remove allow_private_target",
        ));
    }
    if v.timeout > std::time::Duration::from_secs(5) {
        out.push(Finding::warn(
            RULE,
            format!(
                "{at}.c2b_validation.timeout is {} ms: Daraja waits only a few seconds, then applies the registered default",
                v.timeout.as_millis()
            ),
            "set timeout to \"3s\" or less",
        ));
    }
    let secret = v.signing_secret_in(config).map(|r| {
        let name = match v.signing_secret {
            Some(_) => format!("{at}.c2b_validation.signing_secret"),
            None => "merchant.signing_secret".to_string(),
        };
        (name, r)
    });
    match secret {
        None => out.push(Finding::fail(
            RULE,
            "C2B validation has no signing secret",
            format!("set {at}.c2b_validation.signing_secret or merchant.signing_secret"),
        )),
        Some((name, r)) => {
            if let Ok(secret) = r.resolve() {
                if !secret.expose().starts_with("whsec_") {
                    out.push(Finding::fail(
                        RULE,
                        format!("{name} is not a Standard Webhooks secret"),
                        "use `whsec_` followed by base64 of at least 24 random bytes",
                    ));
                }
            }
        }
    }
    out
}

fn debug_logging(config: &Config) -> Vec<Finding> {
    const RULE: &str = "debug-logging-off";
    let mut levels = vec![("logging.level", config.logging.level.clone())];
    if let Ok(v) = std::env::var("MALIPO_LOG") {
        levels.push(("MALIPO_LOG", v));
    }
    let verbose = levels
        .iter()
        .find(|(_, l)| l.to_ascii_lowercase().contains("debug") || l.to_ascii_lowercase().contains("trace"));
    vec![match verbose {
        Some((key, level)) if production(config) => Finding::fail(
            RULE,
            format!("{key} is {level:?} in production"),
            format!("set {key} to \"info\" (debug logs carry request details)"),
        ),
        Some((key, level)) => {
            Finding::warn(RULE, format!("{key} is {level:?}"), "use \"info\" in production")
        }
        None => Finding::pass(RULE, "debug logging is off"),
    }]
}
