//! Logins: the admin token checked in constant time, sessions held in memory (a restart logs
//! everyone out), each with its own CSRF token and an absolute expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use malipo_core::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "malipo_session";

/// A logged-in operator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The token every form of this session carries.
    pub csrf: String,
    expires: Instant,
}

/// The dashboard's sessions and its login secret.
pub(crate) struct Sessions {
    token: Secret<String>,
    ttl: Duration,
    /// Whether cookies are `Secure` (production: the ops listener sits behind TLS).
    secure: bool,
    /// By the SHA-256 of the session id, so a memory dump does not hold usable cookies.
    live: Mutex<HashMap<[u8; 32], Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub(crate) fn new(token: Secret<String>, ttl: Duration, secure: bool) -> Self {
        Sessions {
            token,
            ttl,
            secure,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `given` is the admin token (constant time: the answer's timing says nothing of
    /// how much of it matched).
    pub(crate) fn token_matches(&self, given: &str) -> bool {
        let expected = Sha256::digest(self.token.expose().as_bytes());
        let given = Sha256::digest(given.as_bytes());
        bool::from(expected.ct_eq(&given))
    }

    /// Starts a session; the cookie to set.
    pub(crate) fn start(&self) -> String {
        let id = random_hex();
        let session = Session {
            csrf: random_hex(),
            expires: Instant::now() + self.ttl,
        };
        if let Ok(mut live) = self.live.lock() {
            // Expired sessions go when a new one starts: the map never grows without bound.
            let now = Instant::now();
            live.retain(|_, s| s.expires > now);
            live.insert(digest(&id), session);
        }
        self.cookie(&id, self.ttl.as_secs())
    }

    /// The live session of the request's cookie, if any.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_value(headers)?;
        let live = self.live.lock().ok()?;
        live.get(&digest(&id))
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    /// Ends the request's session; the cookie that clears it in the browser.
    pub(crate) fn end(&self, headers: &HeaderMap) -> String {
        if let (Some(id), Ok(mut live)) = (cookie_value(headers), self.live.lock()) {
            live.remove(&digest(&id));
        }
        self.cookie("", 0)
    }

    /// Forgets every session's remaining time (tests of expiry).
    #[cfg(test)]
    pub(crate) fn expire_all(&self) {
        if let Ok(mut live) = self.live.lock() {
            for s in live.values_mut() {
                s.expires = Instant::now();
            }
        }
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        format!(
            "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// The session id in the request's `Cookie` header.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a form's CSRF token is the session's.
pub(crate) fn csrf_matches(session: &Session, given: &str) -> bool {
    bool::from(session.csrf.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(set_cookie: &str) -> HeaderMap {
        let value = set_cookie.split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, value.parse().unwrap());
        h
    }

    #[test]
    fn a_session_lives_until_it_expires_or_ends() {
        let s = Sessions::new(
            Secret::new("correct horse battery".into()),
            Duration::from_secs(60),
            true,
        );
        assert!(s.token_matches("correct horse battery"));
        assert!(!s.token_matches("correct horse batter"));
        let cookie = s.start();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure")
        );
        let headers = with_cookie(&cookie);
        let session = s.of(&headers).expect("live");
        assert!(csrf_matches(&session, &session.csrf));
        assert!(!csrf_matches(&session, "0"));
        s.expire_all();
        assert!(s.of(&headers).is_none(), "an expired session is refused");
        let cookie = s.start();
        let headers = with_cookie(&cookie);
        assert!(s.of(&headers).is_some());
        let cleared = s.end(&headers);
        assert!(cleared.contains("Max-Age=0"));
        assert!(s.of(&headers).is_none(), "a session that ended is refused");
        assert!(s.of(&with_cookie("malipo_session=not-hex")).is_none());
    }
}
