//! Secrets and the one place they are masked.
//!
//! Every value that must never print (values from `secret_env()`, auth-step and
//! `secret: true` captures, credentials built from them) is registered with the
//! [`Masker`] the moment it exists. All output — terminal, `-v` traces, plans, errors,
//! reports — passes through [`Masker::mask`], which replaces each registered secret,
//! and its URL-, form- and JSON-encoded spellings, with `•••`.

use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

/// What a secret prints as.
pub const MASK: &str = "•••";

#[derive(Default)]
struct Inner {
    secrets: Vec<SecretString>,
    patterns: Vec<String>,
    matcher: Option<AhoCorasick>,
}

/// Shared registry of secret values; cheap to clone.
#[derive(Clone, Default)]
pub struct Masker {
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

/// Characters a URL path percent-encodes (the WHATWG path set).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Secrets shorter than this are masked only where they stand alone (not inside words),
/// or `test` would blank every `test` in the output.
pub const SHORT_SECRET: usize = 6;

/// Spellings of a secret as it may appear on the wire or in output: as is, form- and
/// percent-encoded (upper- and lower-case hex, path and full sets), JSON-escaped (also
/// with `\/`), with `+` decoded to a space, and upper- or lower-cased.
fn spellings(secret: &str) -> Vec<String> {
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let pct = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let path = percent_encoding::utf8_percent_encode(secret, PATH).to_string();
    let lower_hex = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
            }
        }
        out
    };
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let mut candidates = vec![
        secret.to_string(),
        lower_hex(&pct),
        lower_hex(&form),
        pct,
        form,
        path,
        json.replace('/', "\\/"),
        json,
        secret.replace('+', " "),
    ];
    if secret.chars().count() >= SHORT_SECRET {
        candidates.push(secret.to_uppercase());
        candidates.push(secret.to_lowercase());
    }
    let mut out: Vec<String> = Vec::with_capacity(candidates.len());
    for s in candidates {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

impl Masker {
    /// Registers a secret value (empty strings are ignored).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        if inner.secrets.iter().any(|s| s.expose_secret() == secret) {
            return;
        }
        inner.secrets.push(SecretString::from(secret.to_string()));
        for s in spellings(secret) {
            if !inner.patterns.contains(&s) {
                inner.patterns.push(s);
            }
        }
        inner.matcher =
            AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&inner.patterns).ok();
    }

    /// Registers `derived` as secret when `source` contains a secret.
    pub fn propagate(&self, source: &str, derived: &str) {
        if self.contains_secret(source) {
            self.add(derived);
        }
    }

    /// Whether `text` contains any registered secret.
    pub fn contains_secret(&self, text: &str) -> bool {
        let any = self.inner.read().ok().and_then(|i| i.matcher.as_ref().map(|m| m.is_match(text)));
        // A short secret inside a word does not count, as in `mask`.
        any.unwrap_or(false) && self.mask(text) != text
    }

    /// The first `max` characters of `text`, masked *before* it is cut, so no part of a
    /// secret that straddles the cut can show. Only a window of `max` plus the longest
    /// secret spelling is read, so a huge body costs no more than a short one.
    pub fn excerpt(&self, text: &str, max: usize) -> String {
        let longest =
            self.inner.read().map(|i| i.patterns.iter().map(|p| p.chars().count()).max()).ok().flatten();
        let window_len = max.saturating_add(longest.unwrap_or(0));
        let end = text.char_indices().nth(window_len).map_or(text.len(), |(i, _)| i);
        let masked = self.mask(&text[..end]);
        let mut out: String = masked.chars().take(max).collect();
        if masked.chars().nth(max).is_some() || end < text.len() {
            out.push('…');
        }
        out
    }

    /// `text` with every secret spelling replaced by [`MASK`]. A spelling shorter than
    /// [`SHORT_SECRET`] characters is replaced only where it is not part of a longer word.
    pub fn mask(&self, text: &str) -> String {
        let Ok(inner) = self.inner.read() else {
            return text.to_string();
        };
        let Some(m) = &inner.matcher else { return text.to_string() };
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in m.find_iter(text) {
            let short = inner.patterns[found.pattern().as_usize()].chars().count() < SHORT_SECRET;
            let inside_word = short
                && (word(text[..found.start()].chars().next_back())
                    || word(text[found.end()..].chars().next()));
            if inside_word {
                continue;
            }
            out.push_str(&text[last..found.start()]);
            out.push_str(MASK);
            last = found.end();
        }
        out.push_str(&text[last..]);
        out
    }

    /// Whether a secret shorter than [`SHORT_SECRET`] characters is registered (it is
    /// masked only as a whole word, which is worth a warning).
    pub fn has_short_secret(&self) -> bool {
        self.inner
            .read()
            .map(|i| i.secrets.iter().any(|s| s.expose_secret().chars().count() < SHORT_SECRET))
            .unwrap_or(false)
    }
}

/// Whether a variable or JSON field name suggests a credential; such values are masked in output.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    // `token_type`, `expires_in`, `token_url`… describe a token without being one.
    let describes = ["type", "expire", "url", "uri", "path", "endpoint"].iter().any(|w| n.contains(w));
    ["password", "passwd", "secret", "apikey", "api_key", "credential", "private_key", "privatekey"]
        .iter()
        .any(|w| n.contains(w))
        || (n.contains("token") && !describes)
}

/// Registers every string in a captured value (lists and objects included) as secret.
pub fn register_all(masker: &Masker, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => masker.add(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| register_all(masker, v)),
        serde_json::Value::Object(map) => map.values().for_each(|v| register_all(masker, v)),
        _ => {}
    }
}

/// Registers every string under a secret-looking key (`access_token`, `client_secret`…)
/// of a JSON document, so a response never prints a credential even when it is not captured.
pub fn register_secret_fields(masker: &Masker, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if is_secret_name(k) => masker.add(s),
                    other => register_secret_fields(masker, other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| register_secret_fields(masker, v)),
        _ => {}
    }
}

/// Base64 of `user:password`, as sent in a Basic `Authorization` header.
pub fn basic_credential(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_a_server_or_filter_produces_is_masked() {
        let m = Masker::default();
        let secret = "p@ss/w+rd Ab";
        m.add(secret);
        let echoes = [
            "p@ss/w+rd Ab",
            "p%40ss%2Fw%2Brd%20Ab",
            "p%40ss%2fw%2brd%20Ab",
            "p%40ss%2Fw%2Brd+Ab",
            "p@ss/w+rd%20Ab",
            "p@ss\\/w+rd Ab",
            "p@ss/w rd Ab",
            "P@SS/W+RD AB",
            "p@ss/w+rd ab",
        ];
        for echo in echoes {
            assert_eq!(m.mask(&format!("[{echo}]")), format!("[{MASK}]"), "{echo}");
        }
    }

    #[test]
    fn short_secrets_are_masked_only_as_whole_words() {
        let m = Masker::default();
        m.add("test");
        assert!(m.has_short_secret());
        assert_eq!(
            m.mask("secret=test, testing project-test-x"),
            format!("secret={MASK}, testing project-{MASK}-x")
        );
        assert_eq!(m.mask("contest attested"), "contest attested");
        let long = Masker::default();
        long.add("hunter22");
        assert!(!long.has_short_secret());
        assert_eq!(long.mask("xhunter22x"), format!("x{MASK}x"), "long secrets are masked anywhere");
    }

    #[test]
    fn excerpts_mask_before_they_cut() {
        let m = Masker::default();
        let secret = "s3cr3t-0123456789-abcdefghijklmnop-XYZ";
        m.add(secret);
        for cut in 1..secret.len() + 4 {
            let text = format!("{}{secret} and more", "x".repeat(cut));
            let shown = m.excerpt(&text, cut + 10);
            assert!(!shown.contains("s3cr"), "cut {cut}: {shown}");
            assert!(shown.ends_with('…'), "{shown}");
        }
        assert_eq!(m.excerpt("short", 10), "short");
        assert_eq!(Masker::default().excerpt("abcdef", 3), "abc…");
    }

    #[test]
    fn secret_names_cover_credentials_not_their_metadata() {
        for s in
            ["password", "client_secret", "access_token", "refresh_token", "x-api-key", "apiKey", "token"]
        {
            assert!(is_secret_name(s), "{s}");
        }
        for s in ["token_type", "expires_in", "token_url", "username", "client_id", "scope"] {
            assert!(!is_secret_name(s), "{s}");
        }
    }

    #[test]
    fn masks_every_spelling_of_a_secret() {
        let m = Masker::default();
        m.add("p@ss word/1");
        let text = "raw p@ss word/1, form p%40ss+word%2F1, pct p%40ss%20word%2F1";
        let masked = m.mask(text);
        assert_eq!(masked, "raw •••, form •••, pct •••");
    }

    #[test]
    fn derived_values_become_secret() {
        let m = Masker::default();
        m.add("s3cret");
        let basic = basic_credential("client", "s3cret");
        m.add(&basic); // as the executor does for every Basic credential it builds
        assert_eq!(m.mask(&format!("Basic {basic}")), "Basic •••");
        m.propagate("x-s3cret", "ENCODED");
        assert_eq!(m.mask("ENCODED"), "•••");
    }

    #[test]
    fn secret_is_masked_when_url_encoded() {
        let m = Masker::default();
        m.add("a b&c=d");
        assert_eq!(m.mask("?key=a+b%26c%3Dd&x=1"), "?key=•••&x=1", "form encoding");
        assert_eq!(m.mask("/path/a%20b%26c%3Dd"), "/path/•••", "percent encoding");
    }

    #[test]
    fn secret_is_masked_when_json_escaped() {
        let m = Masker::default();
        m.add("quo\"te\\back");
        assert_eq!(m.mask(r#"{"password": "quo\"te\\back"}"#), r#"{"password": "•••"}"#);
    }

    #[test]
    fn the_longest_secret_wins_when_one_contains_another() {
        let m = Masker::default();
        m.add("abc");
        m.add("abcdef");
        assert_eq!(m.mask("abcdef abc"), "••• •••", "no `•••def` remainder");
    }

    #[test]
    fn empty_secrets_are_ignored_and_nothing_registered_masks_nothing() {
        let m = Masker::default();
        assert_eq!(m.mask("plain text"), "plain text");
        m.add("");
        assert!(!m.contains_secret("anything"));
        assert_eq!(m.mask("anything"), "anything");
    }

    #[test]
    fn clones_share_one_registry() {
        let m = Masker::default();
        let clone = m.clone();
        clone.add("shared-secret");
        assert!(m.contains_secret("the shared-secret here"));
        assert_eq!(m.mask("shared-secret"), MASK);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let m = Masker::default();
        m.add("hunter2");
        assert_eq!(format!("{m:?}"), "Masker(..)");
    }

    #[test]
    fn propagate_registers_nothing_when_the_source_holds_no_secret() {
        let m = Masker::default();
        m.add("s3cret");
        m.propagate("public value", "derived");
        assert_eq!(m.mask("derived"), "derived");
    }

    #[test]
    fn captured_values_register_every_string_inside_them() {
        let m = Masker::default();
        let value = serde_json::json!({"list": ["one", {"deep": "two"}], "n": 42, "flag": true});
        register_all(&m, &value);
        assert_eq!(m.mask("one two 42 true"), "••• ••• 42 true", "only strings are secrets");
    }

    #[test]
    fn response_fields_named_like_credentials_are_registered_at_any_depth() {
        let m = Masker::default();
        let doc = serde_json::json!({
            "data": [{"access_token": "at-123", "token_type": "Bearer", "expires_in": 3600}],
            "client": {"clientSecret": "cs-456", "name": "app"},
            "refresh_token": {"nested": "not a string itself"}
        });
        register_secret_fields(&m, &doc);
        assert_eq!(m.mask("at-123 cs-456 Bearer app"), "••• ••• Bearer app");
        assert_eq!(
            m.mask("not a string itself"),
            "not a string itself",
            "objects are walked, not taken whole"
        );
    }

    #[test]
    fn camel_case_and_dashed_credential_names_are_secret() {
        for s in ["privateKey", "private-key", "clientSecret", "accessToken", "id_token", "X-Api-Key"] {
            assert!(is_secret_name(s), "{s}");
        }
        for s in ["token_endpoint", "refresh_token_expires_in", "tokenPath", "keyboard"] {
            assert!(!is_secret_name(s), "{s}");
        }
    }
}
