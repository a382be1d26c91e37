//! What `once:` and `cache:` keep between runs: keys, lookups and new entries.

use crate::exchange::ResolvedRequest;
use crate::resolve::SENSITIVE_HEADERS;
use crate::state::{Entry, StateStore};

use super::Runner;

/// What the executor reads from and adds to the persisted state.
pub struct Persist<'s> {
    /// The state as loaded (None when persistence is off).
    pub store: Option<&'s StateStore>,
    /// `--env` name, part of every key.
    pub environment: String,
    /// Entries written by this run (saved by the caller when the run ends).
    pub updates: Vec<(String, Entry)>,
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// What identifies a request for persistence: method, URL, headers and body, but no
/// credentials (a renewed token must not make a cached result unreachable).
pub(super) fn fingerprint(r: &ResolvedRequest) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            !SENSITIVE_HEADERS.contains(&n.as_str()) && !r.secret_headers.contains(&n)
        })
        .map(|(n, v)| format!("{}:{v}", n.to_ascii_lowercase()))
        .collect();
    format!("{} {}\n{}\n{}", r.method, r.url, headers.join("\n"), r.body.preview().unwrap_or_default())
}

impl Runner<'_, '_, '_, '_> {
    /// The state key of a step's request.
    pub(super) fn state_key(&self, step_name: &str, request: &ResolvedRequest) -> String {
        crate::state::key(&self.collection_id, &self.persist.environment, step_name, &fingerprint(request))
    }

    /// A fresh entry for `key`: written earlier in this run, else loaded from the state.
    pub(super) fn lookup(&self, key: &str) -> Option<Entry> {
        let now = unix_now();
        let fresh = |e: &&Entry| e.is_fresh(now);
        self.persist
            .updates
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, e)| e)
            .filter(fresh)
            .or_else(|| self.persist.store.and_then(|s| s.get(key, now)))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::ResolvedBody;

    fn request(headers: &[(&str, &str)]) -> ResolvedRequest {
        ResolvedRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:1/token".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: ResolvedBody::Form(vec![("grant_type".into(), "client_credentials".into())]),
            timeout: None,
            secret_headers: Vec::new(),
        }
    }

    #[test]
    fn fingerprints_leave_out_credentials() {
        let a = fingerprint(&request(&[("Authorization", "Bearer one"), ("X-Api-Key", "k1")]));
        let b = fingerprint(&request(&[("authorization", "Bearer two"), ("x-api-key", "k2")]));
        assert_eq!(a, b, "a renewed credential keeps the same identity");
        assert!(!a.contains("one") && !a.contains("k1"), "{a}");
    }

    #[test]
    fn fingerprints_tell_requests_apart_by_headers_url_and_body() {
        let base = fingerprint(&request(&[("Accept", "application/json")]));
        assert_ne!(base, fingerprint(&request(&[("Accept", "text/plain")])));
        let mut other = request(&[("Accept", "application/json")]);
        other.url.push_str("?x=1");
        assert_ne!(base, fingerprint(&other));
        other = request(&[("Accept", "application/json")]);
        other.body = ResolvedBody::Form(vec![("grant_type".into(), "password".into())]);
        assert_ne!(base, fingerprint(&other));
    }
}
