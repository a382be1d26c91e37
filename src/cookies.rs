//! The cookie jar of one collection run: what servers set with `Set-Cookie` is sent back
//! by the rules browsers follow (domain, path, `Secure`, expiry), across auth steps and
//! requests, through redirects. The rules are `cookie_store`'s (RFC 6265).
//!
//! One difference, on purpose: browsers send a host's cookies to every port of it, but
//! two services on one host (`127.0.0.1:8080` and `127.0.0.1:9090`) are two origins, and
//! a session cookie is a credential. So the jar keeps a store per port (80 and 443, the
//! web's own pair, share one, so an http → https login still works).

use std::collections::HashMap;
use std::sync::Mutex;

use cookie_store::{CookieStore, RawCookie};
use url::Url;

/// One collection run's cookies.
#[derive(Debug, Default)]
pub struct Jar {
    stores: Mutex<HashMap<u16, CookieStore>>,
}

/// Which store a URL's cookies live in: its port, with 443 filed under 80.
fn port_key(url: &Url) -> u16 {
    match url.port_or_known_default() {
        Some(443) | None => 80,
        Some(p) => p,
    }
}

/// A cookie a response set: its name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie's name.
    pub name: String,
    /// Its value (empty when the server cleared it).
    pub value: String,
    /// `HttpOnly`: the server keeps it from scripts, as it does session cookies.
    pub http_only: bool,
}

impl SetCookie {
    fn of(c: &RawCookie<'_>) -> Self {
        SetCookie {
            name: c.name().to_string(),
            value: c.value().to_string(),
            http_only: c.http_only() == Some(true),
        }
    }

    /// Whether the value is a credential to mask: `HttpOnly` (how servers mark session
    /// cookies), or a name such as `session`, `sid`, `auth` or one that reads as secret.
    pub fn looks_secret(&self) -> bool {
        let n = self.name.to_ascii_lowercase();
        self.http_only
            || ["sess", "sid", "auth", "jwt", "login", "remember"].iter().any(|w| n.contains(w))
            || crate::secret::is_secret_name(&n)
    }
}

impl Jar {
    /// The `Cookie` header value for a request to `url`, when the jar holds cookies for it.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let stores = self.stores.lock().ok()?;
        let store = stores.get(&port_key(url))?;
        // Longer paths first (RFC 6265 5.4), then by name: the same header every run.
        let mut cookies = store.matches(url);
        cookies.sort_by(|a, b| {
            let len = |c: &cookie_store::Cookie<'_>| c.path().map_or(0, str::len);
            len(b).cmp(&len(a)).then_with(|| a.name().cmp(b.name()))
        });
        let pairs: Vec<String> = cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Keeps the cookies `set_cookie` headers set on an answer from `url`, and returns
    /// them as parsed (those the jar refuses, a domain the URL may not set, are still
    /// returned: a step may check what the server tried).
    pub fn store<'h>(&self, url: &Url, set_cookie: impl Iterator<Item = &'h str>) -> Vec<SetCookie> {
        let parsed: Vec<RawCookie<'static>> =
            set_cookie.filter_map(|h| RawCookie::parse(h.to_string()).ok()).collect();
        let seen = parsed.iter().map(SetCookie::of).collect();
        if let Ok(mut stores) = self.stores.lock() {
            stores.entry(port_key(url)).or_default().store_response_cookies(parsed.into_iter(), url);
        }
        seen
    }
}

/// The cookies `Set-Cookie` header values set (parsed only, for a response that is not
/// kept in a jar).
pub fn parse_set_cookies<'h>(set_cookie: impl Iterator<Item = &'h str>) -> Vec<SetCookie> {
    set_cookie.filter_map(|h| RawCookie::parse(h).ok()).map(|c| SetCookie::of(&c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_secret_by_flag_or_by_name() {
        let set =
            parse_set_cookies(["a=1; HttpOnly", "PHPSESSID=2", "theme=dark", "remember_me=3"].into_iter());
        let secret: Vec<bool> = set.iter().map(SetCookie::looks_secret).collect();
        assert_eq!(secret, [true, true, false, true]);
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn a_cookie_goes_back_to_its_host_and_path_only() {
        let jar = Jar::default();
        let set = jar
            .store(&url("http://127.0.0.1:8080/login"), ["sid=abc; Path=/", "pref=x; Path=/app"].into_iter());
        assert_eq!(set.len(), 2);
        let both = jar.header_for(&url("http://127.0.0.1:8080/app/1")).expect("cookies");
        let mut pairs: Vec<&str> = both.split("; ").collect();
        pairs.sort_unstable();
        assert_eq!(pairs, ["pref=x", "sid=abc"]);
        assert_eq!(jar.header_for(&url("http://127.0.0.1:8080/other")).as_deref(), Some("sid=abc"));
        assert_eq!(jar.header_for(&url("http://localhost:8080/")), None, "another host gets nothing");
        assert_eq!(jar.header_for(&url("http://127.0.0.1:9090/")), None, "another port gets nothing");
    }

    #[test]
    fn secure_cookies_stay_off_plain_http_and_expired_ones_are_dropped() {
        let jar = Jar::default();
        jar.store(&url("https://api.example.test/"), ["s=1; Secure", "gone=1; Max-Age=0"].into_iter());
        assert_eq!(jar.header_for(&url("http://api.example.test/")), None);
        assert_eq!(jar.header_for(&url("https://api.example.test/")).as_deref(), Some("s=1"));
        jar.store(&url("http://web.example.test/"), ["plain=1"].into_iter());
        assert_eq!(
            jar.header_for(&url("https://web.example.test/")).as_deref(),
            Some("plain=1"),
            "http and https on their default ports share cookies, as browsers do"
        );
    }

    #[test]
    fn a_malformed_set_cookie_is_ignored_not_fatal() {
        let jar = Jar::default();
        let set = jar.store(&url("http://127.0.0.1/"), ["", "=", "ok=1"].into_iter());
        assert_eq!(set, vec![SetCookie { name: "ok".into(), value: "1".into(), http_only: false }]);
    }
}
