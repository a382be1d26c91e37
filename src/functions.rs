//! The filters and functions baton adds to templates: regexes, list picks, JWT claims,
//! truncation, and generators (`fake()`, `random_int()`, `random_string()`, `uuid()`,
//! `now()`, `today()`) drawing from one random source per engine, which `--seed` makes
//! repeatable.
//!
//! A filter whose output derives from its input keeps a secret secret: what it returns
//! from a masked value is masked too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Environment, Error as MjError, ErrorKind};

use crate::secret::Masker;

/// What `fake()` makes.
pub const FAKE_KINDS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "name",
    "username",
    "password",
    "phone",
    "ipv4",
    "word",
    "sentence",
    "company",
    "city",
    "country",
    "street",
    "zip",
    "url",
    "uuid",
];

const FIRST: &[&str] = &[
    "Ada", "Alan", "Ann", "Ben", "Chloe", "Dan", "Eve", "Finn", "Grace", "Hugo", "Ines", "Jon", "Kira",
    "Leo", "Maya", "Nils", "Olga", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vik", "Wes", "Yara",
    "Zoe",
];
const LAST: &[&str] = &[
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan",
    "Lopez", "Meyer", "Nagy", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga",
    "Weber", "Young",
];
const WORDS: &[&str] = &[
    "amber", "basil", "cedar", "delta", "ember", "fjord", "glade", "harbor", "island", "juniper", "kernel",
    "lumen", "meadow", "nectar", "orbit", "pebble", "quartz", "ripple", "summit", "timber", "umber",
    "vertex", "willow", "zephyr",
];
const COMPANIES: &[&str] =
    &["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Soylent"];
const CITIES: &[&str] =
    &["Lisbon", "Oslo", "Lyon", "Porto", "Turku", "Ghent", "Graz", "Bergen", "Malmo", "Leeds", "Cork"];
const COUNTRIES: &[&str] =
    &["Portugal", "Norway", "France", "Finland", "Belgium", "Austria", "Sweden", "Ireland", "Japan", "Chile"];
const STREETS: &[&str] = &["Oak", "Maple", "Station", "Mill", "Church", "River", "Park", "High", "Bridge"];

/// The random source of one engine: from entropy, or from `--seed` (then every value is
/// the same on every run, in the same order).
#[derive(Clone)]
pub struct Generators {
    rng: Arc<Mutex<fastrand::Rng>>,
}

impl Default for Generators {
    fn default() -> Self {
        Generators { rng: Arc::new(Mutex::new(fastrand::Rng::new())) }
    }
}

impl Generators {
    /// Restarts the sequence from `seed`.
    pub fn seed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(PoisonError::into_inner) = fastrand::Rng::with_seed(seed);
    }

    fn with<R>(&self, f: impl FnOnce(&mut fastrand::Rng) -> R) -> R {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn pick(&self, list: &[&'static str]) -> &'static str {
        self.with(|r| list[r.usize(..list.len())])
    }
}

fn fail(msg: impl Into<String>) -> MjError {
    MjError::new(ErrorKind::InvalidOperation, msg.into())
}

/// Registers every string inside `out` as secret when `input` holds a secret.
fn propagate(masker: &Masker, input: &str, out: &MjValue) {
    if !masker.contains_secret(input) {
        return;
    }
    if let Ok(json) = serde_json::to_value(out) {
        crate::secret::register_all(masker, &json);
    }
}

/// Compiled patterns, shared by every render (a step renders the same one each time).
#[derive(Default)]
struct Patterns(Mutex<HashMap<String, Arc<regex::Regex>>>);

impl Patterns {
    fn get(&self, pattern: &str, filter: &str) -> Result<Arc<regex::Regex>, MjError> {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(re) = cache.get(pattern) {
            return Ok(Arc::clone(re));
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| fail(format!("{filter}: `{pattern}` is not a valid regex: {e}")))?;
        let re = Arc::new(re);
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), Arc::clone(&re));
        Ok(re)
    }
}

/// Adds the filters and functions to `env`.
pub fn register(env: &mut Environment<'static>, masker: &Masker, gens: &Generators) {
    let patterns = Arc::new(Patterns::default());
    let (m, p) = (masker.clone(), Arc::clone(&patterns));
    env.add_filter("regex_replace", move |s: String, pattern: String, replacement: String| {
        let out = p.get(&pattern, "regex_replace")?.replace_all(&s, replacement.as_str()).into_owned();
        m.propagate(&s, &out);
        Ok::<_, MjError>(out)
    });
    let (m, p) = (masker.clone(), patterns);
    env.add_filter("regex_search", move |s: String, pattern: String, kwargs: Kwargs| {
        let group: Option<MjValue> = kwargs.get("group")?;
        kwargs.assert_all_used()?;
        let re = p.get(&pattern, "regex_search")?;
        // A group the pattern does not have is a typo, not "no match".
        match &group {
            Some(g) if g.as_str().is_some() => {
                let name = g.as_str().unwrap_or_default();
                if !re.capture_names().flatten().any(|n| n == name) {
                    return Err(fail(format!("regex_search: `{pattern}` has no group named `{name}`")));
                }
            }
            Some(g) => {
                let n = usize::try_from(g.clone())
                    .map_err(|_| fail("regex_search: group= is a number or a name"))?;
                if n >= re.captures_len() {
                    return Err(fail(format!(
                        "regex_search: `{pattern}` has {} group(s); group={n} is not one",
                        re.captures_len() - 1
                    )));
                }
            }
            None => {}
        }
        let Some(caps) = re.captures(&s) else { return Ok(MjValue::from(())) };
        let found = match &group {
            None => caps.get(0),
            Some(g) if g.as_str().is_some() => caps.name(g.as_str().unwrap_or_default()),
            Some(g) => {
                let n = usize::try_from(g.clone())
                    .map_err(|_| fail("regex_search: group= is a number or a name"))?;
                caps.get(n)
            }
        };
        let out = found.map_or_else(|| MjValue::from(()), |m| MjValue::from(m.as_str()));
        propagate(&m, &s, &out);
        Ok::<_, MjError>(out)
    });
    let m = masker.clone();
    env.add_filter("nth", move |v: MjValue, n: i64| {
        // One item is read where it is: a huge list (`[1] * 99999999`) is never copied.
        use minijinja::value::ValueKind;
        const MAX_WALK: usize = 10_000_000;
        // Counting from the front needs no length.
        if let (Ok(i), ValueKind::Iterable) = (usize::try_from(n), v.kind()) {
            if i >= MAX_WALK {
                return Err(fail(format!("nth: more than {MAX_WALK} items to walk")));
            }
            return v.try_iter()?.nth(i).ok_or_else(|| fail(format!("nth({n}): out of range")));
        }
        let len = match (v.as_str(), v.kind()) {
            (Some(s), _) => s.chars().count(),
            (None, ValueKind::Seq) => v.len().unwrap_or(0),
            // A lazy sequence is walked, not collected, and only so far.
            (None, ValueKind::Iterable) => match v.len() {
                Some(len) => len,
                None => {
                    let walked = v.try_iter()?.take(MAX_WALK + 1).count();
                    if walked > MAX_WALK {
                        return Err(fail(format!("nth: more than {MAX_WALK} items to walk")));
                    }
                    walked
                }
            },
            _ => return Err(fail(format!("nth: expects a list or a string, not {}", v.kind()))),
        };
        let len_i = i64::try_from(len).unwrap_or(i64::MAX);
        let at = if n < 0 { len_i + n } else { n };
        let out_of_range = || fail(format!("nth({n}): out of range for a length of {len}"));
        let i = usize::try_from(at).ok().filter(|i| *i < len).ok_or_else(out_of_range)?;
        let out = match (v.as_str(), v.kind()) {
            (Some(s), _) => MjValue::from(s.chars().nth(i).map(String::from).unwrap_or_default()),
            (None, ValueKind::Iterable) => {
                if i > MAX_WALK {
                    return Err(fail(format!("nth: more than {MAX_WALK} items to walk")));
                }
                v.try_iter()?.nth(i).ok_or_else(out_of_range)?
            }
            _ => v.get_item_by_index(i).map_err(|_| out_of_range())?,
        };
        if let Some(s) = v.as_str() {
            propagate(&m, s, &out);
        }
        Ok::<_, MjError>(out)
    });
    let m = masker.clone();
    env.add_filter("jwt_claims", move |token: String| {
        let claims = jwt_claims(&token)?;
        let out = MjValue::from(minijinja::value::Serde(&claims));
        propagate(&m, &token, &out);
        Ok::<_, MjError>(out)
    });
    let m = masker.clone();
    env.add_filter(
        "truncate",
        move |s: String, length: Option<usize>, end: Option<String>, kwargs: Kwargs| {
            let length = length.or(kwargs.get("length")?);
            let end = end.or(kwargs.get("end")?);
            kwargs.assert_all_used()?;
            let (length, end) = (length.unwrap_or(255), end.unwrap_or_else(|| "...".into()));
            if s.chars().count() <= length {
                return Ok::<_, MjError>(s);
            }
            let keep = length.saturating_sub(end.chars().count());
            let out: String = s.chars().take(keep).chain(end.chars()).collect();
            m.propagate(&s, &out);
            Ok(out)
        },
    );
    let g = gens.clone();
    env.add_function("uuid", move || {
        let bytes: [u8; 16] = g.with(|r| std::array::from_fn(|_| r.u8(..)));
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    });
    env.add_function("now", |format: Option<String>, kwargs: Kwargs| now(format, &kwargs, "rfc3339", "now"));
    env.add_function("today", |format: Option<String>, kwargs: Kwargs| {
        now(format, &kwargs, "%Y-%m-%d", "today")
    });
    let g = gens.clone();
    env.add_function("random_int", move |a: i64, b: i64| {
        if a > b {
            return Err(fail(format!("random_int({a}, {b}): the first bound is above the second")));
        }
        Ok(g.with(|r| r.i64(a..=b)))
    });
    let g = gens.clone();
    env.add_function("random_string", move |n: usize, chars: Option<String>, kwargs: Kwargs| {
        let chars: Option<String> = chars.or(kwargs.get("chars")?);
        kwargs.assert_all_used()?;
        if n > 4096 {
            return Err(fail(format!("random_string({n}): at most 4096 characters")));
        }
        let set: &[u8] = match chars.as_deref().unwrap_or("alnum") {
            "alnum" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "alpha" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "digits" => b"0123456789",
            "hex" => b"0123456789abcdef",
            other => {
                return Err(fail(format!(
                    "random_string(chars='{other}'): expected 'alnum', 'alpha', 'digits' or 'hex'"
                )));
            }
        };
        Ok(g.with(|r| (0..n).map(|_| char::from(set[r.usize(..set.len())])).collect::<String>()))
    });
    let (g, m) = (gens.clone(), masker.clone());
    env.add_function("fake", move |kind: String| fake(&g, &m, &kind));
}

fn fake(g: &Generators, masker: &Masker, kind: &str) -> Result<String, MjError> {
    let n = || g.with(|r| r.u32(1..1000));
    Ok(match kind {
        "first_name" => g.pick(FIRST).into(),
        "last_name" => g.pick(LAST).into(),
        "name" => format!("{} {}", g.pick(FIRST), g.pick(LAST)),
        "email" => format!("{}.{}{}@example.test", g.pick(FIRST), g.pick(LAST), n()).to_ascii_lowercase(),
        "username" => format!("{}{}", g.pick(FIRST), n()).to_ascii_lowercase(),
        "password" => {
            let set = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_";
            let pw: String = g.with(|r| (0..16).map(|_| char::from(set[r.usize(..set.len())])).collect());
            masker.add(&pw);
            pw
        }
        // 555-01XX numbers are reserved for fiction.
        "phone" => format!("+1-555-01{:02}", g.with(|r| r.u8(..100))),
        // The documentation ranges (RFC 5737).
        "ipv4" => {
            let net = g.pick(&["192.0.2", "198.51.100", "203.0.113"]);
            format!("{net}.{}", g.with(|r| r.u8(1..255)))
        }
        "word" => g.pick(WORDS).into(),
        "sentence" => {
            let words: Vec<&str> = (0..6).map(|_| g.pick(WORDS)).collect();
            let s = words.join(" ");
            let mut c = s.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect::<String>() + ".")
        }
        "company" => format!("{} {}", g.pick(COMPANIES), g.pick(&["Ltd", "GmbH", "Inc", "SA", "AB"])),
        "city" => g.pick(CITIES).into(),
        "country" => g.pick(COUNTRIES).into(),
        "street" => format!("{} {} Street", n(), g.pick(STREETS)),
        "zip" => format!("{:05}", g.with(|r| r.u32(10000..99999))),
        "url" => format!("https://www.example.test/{}/{}", g.pick(WORDS), n()),
        "uuid" => {
            let bytes: [u8; 16] = g.with(|r| std::array::from_fn(|_| r.u8(..)));
            uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
        }
        other => {
            let hint = crate::diagnostic::did_you_mean(other, FAKE_KINDS.iter().copied()).map_or_else(
                || format!("one of: {}", FAKE_KINDS.join(", ")),
                |k| format!("did you mean '{k}'?"),
            );
            return Err(fail(format!("fake('{other}'): not a kind of fake value; {hint}")));
        }
    })
}

/// `now()` / `today()`: the time, moved by `add` (`'30d'`, `'-2h'`, `'1h 30m'`, `'P1D'`),
/// in `format` (`rfc3339`, `unix`, `unix_ms` or a strftime format such as `'%Y-%m-%d'`).
fn now(format: Option<String>, kwargs: &Kwargs, default: &str, func: &str) -> Result<MjValue, MjError> {
    let format: Option<String> = format.or(kwargs.get("format")?);
    let add: Option<String> = kwargs.get("add")?;
    kwargs.assert_all_used()?;
    let mut at = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    if let Some(add) = &add {
        let span: jiff::Span = add.trim().parse().map_err(|e| {
            fail(format!("{func}(add='{add}'): not a duration such as '30d', '-2h' or 'P1D': {e}"))
        })?;
        at = at.checked_add(span).map_err(|e| fail(format!("{func}(add='{add}'): {e}")))?;
    }
    let ts = at.timestamp();
    match format.as_deref().unwrap_or(default) {
        "rfc3339" => {
            Ok(MjValue::from(ts.round(jiff::Unit::Second).map_or_else(|_| ts.to_string(), |t| t.to_string())))
        }
        "unix" => Ok(MjValue::from(ts.as_second())),
        "unix_ms" => Ok(MjValue::from(ts.as_millisecond())),
        f if f.contains('%') => {
            let mut out = String::new();
            jiff::fmt::strtime::BrokenDownTime::from(&at)
                .format(f, &mut out)
                .map_err(|e| fail(format!("{func}(format='{f}'): {e}")))?;
            Ok(MjValue::from(out))
        }
        other => Err(fail(format!(
            "{func}(format='{other}'): expected 'rfc3339', 'unix', 'unix_ms' or a strftime format such as '%Y-%m-%d'"
        ))),
    }
}

/// The claims of a JWT (its payload), not verified: for reading, never for trusting.
fn jwt_claims(token: &str) -> Result<serde_json::Value, MjError> {
    use base64::Engine as _;
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let parts: Vec<&str> = token.split('.').collect();
    let not_jwt = || fail("jwt_claims: the value is not a JWT (expected three dot-separated parts)");
    if parts.len() != 3 {
        return Err(not_jwt());
    }
    let payload = parts[1].trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).map_err(|_| not_jwt())?;
    match serde_json::from_slice(&bytes) {
        Ok(claims @ serde_json::Value::Object(_)) => Ok(claims),
        _ => Err(fail("jwt_claims: the JWT's payload is not a JSON object of claims")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::secret::Masker;
    use crate::template::Engine;
    use crate::testing::render_with;

    fn engine(masker: &Masker) -> Engine {
        Engine::new(Arc::default(), masker.clone())
    }

    fn ok(e: &Engine, t: &str) -> serde_json::Value {
        render_with(e, t).unwrap_or_else(|m| panic!("{t}: {m}"))
    }

    fn err(e: &Engine, t: &str) -> String {
        render_with(e, t).expect_err(t)
    }

    fn jwt(claims: &str) -> String {
        use base64::Engine as _;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"HS256"}"#), b(claims))
    }

    #[test]
    fn regexes_replace_and_search_by_group_number_or_name() {
        let e = engine(&Masker::default());
        assert_eq!(ok(&e, r#"{{ 'a-1 b-22' | regex_replace('(\w)-(\d+)', '$2$1') }}"#), "1a 22b");
        assert_eq!(
            ok(&e, r#"{{ 'scope: project:alpha' | regex_search('project:(\w+)', group=1) }}"#),
            "alpha"
        );
        assert_eq!(ok(&e, r#"{{ 'k=v' | regex_search('(?P<key>\w)=', group='key') }}"#), "k");
        assert_eq!(ok(&e, r#"{{ 'none' | regex_search('\d') is none }}"#), true);
        assert!(err(&e, r#"{{ 'x' | regex_replace('(', '') }}"#).contains("not a valid regex"));
    }

    #[test]
    fn nth_counts_from_either_end_and_says_the_length_when_out_of_range() {
        let e = engine(&Masker::default());
        assert_eq!(ok(&e, "{{ [1, 2, 3] | nth(-1) }}"), 3);
        assert_eq!(ok(&e, "{{ 'abc' | nth(1) }}"), "b");
        assert!(err(&e, "{{ [1] | nth(5) }}").contains("out of range for a length of 1"));
        assert_eq!(ok(&e, "{{ range(3) | list | last }}"), 2);
    }

    #[test]
    fn jwt_claims_decode_without_verifying_and_stay_secret_when_the_token_is() {
        let masker = Masker::default();
        let e = engine(&masker);
        let token = jwt(r#"{"sub":"user-7781-subject","scope":"read"}"#);
        masker.add(&token);
        let t = format!("{{{{ '{token}' | jwt_claims }}}}");
        let claims = ok(&e, &t);
        assert_eq!(claims["scope"], "read");
        assert_eq!(masker.mask("user-7781-subject"), "•••", "a claim of a secret token is secret");
        assert!(err(&e, "{{ 'a.b' | jwt_claims }}").contains("not a JWT"));
    }

    #[test]
    fn truncate_counts_characters() {
        let e = engine(&Masker::default());
        assert_eq!(ok(&e, "{{ 'héllo wörld' | truncate(length=8) }}"), "héllo...");
        assert_eq!(ok(&e, "{{ 'short' | truncate(length=8, end='…') }}"), "short");
    }

    #[test]
    fn generators_are_in_range_and_a_seed_replays_them() {
        let e = engine(&Masker::default());
        let n = ok(&e, "{{ random_int(5, 7) }}").as_i64().expect("a number");
        assert!((5..=7).contains(&n));
        assert_eq!(ok(&e, "{{ random_string(12, chars='hex') | length }}"), 12);
        assert!(err(&e, "{{ random_int(2, 1) }}").contains("above the second"));
        let email = ok(&e, "{{ fake('email') }}");
        assert!(email.as_str().expect("text").ends_with("@example.test"), "{email}");
        assert!(err(&e, "{{ fake('emial') }}").contains("did you mean 'email'"));
        let t = "{{ fake('name') }} {{ random_int(1, 1000000) }} {{ uuid() }} {{ random_string(8) }}";
        let run = |seed| {
            let e = engine(&Masker::default());
            e.seed(seed);
            ok(&e, t)
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn now_moves_and_formats() {
        let e = engine(&Masker::default());
        let today = ok(&e, "{{ today() }}");
        assert_eq!(today.as_str().expect("text").len(), 10);
        let later = ok(&e, "{{ now(add='30d', format='%Y-%m-%d') }}");
        assert!(later.as_str().expect("text") > today.as_str().expect("text"));
        assert!(ok(&e, "{{ now(format='unix') }}").is_i64());
        assert!(err(&e, "{{ now(add='soon') }}").contains("not a duration"));
        let fake_password = ok(&e, "{{ fake('password') }}");
        assert_eq!(fake_password.as_str().expect("text").len(), 16);
    }
    #[test]
    fn nth_reads_one_item_of_a_huge_list_without_copying_it_and_refuses_a_map() {
        let e = engine(&Masker::default());
        assert_eq!(ok(&e, "{{ ([7] * 1000000) | nth(-1) }}"), 7);
        assert!(err(&e, "{{ ([7] * 99999999) | nth(-1) }}").contains("more than 10000000 items"));
        assert!(err(&e, "{{ {'k': 1} | nth(0) }}").contains("expects a list or a string"));
    }

    #[test]
    fn a_group_the_pattern_lacks_is_an_error_not_none() {
        let e = engine(&Masker::default());
        assert!(err(&e, r#"{{ 'a1' | regex_search('(\d)', group=5) }}"#).contains("group=5 is not one"));
        assert!(
            err(&e, r#"{{ 'a1' | regex_search('(\d)', group='nope') }}"#).contains("no group named `nope`")
        );
    }

    #[test]
    fn a_bearer_token_decodes_and_a_payload_that_is_not_claims_is_refused() {
        use base64::Engine as _;
        let e = engine(&Masker::default());
        let token = jwt(r#"{"sub":"x"}"#);
        assert_eq!(ok(&e, &format!("{{{{ 'Bearer {token}' | jwt_claims }}}}"))["sub"], "x");
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let number = format!("{}.{}.sig", b("{}"), b("123"));
        assert!(err(&e, &format!("{{{{ '{number}' | jwt_claims }}}}")).contains("not a JSON object"));
        let text = format!("{}.{}.sig", b("{}"), b("not json"));
        assert!(err(&e, &format!("{{{{ '{text}' | jwt_claims }}}}")).contains("not a JSON object"));
    }

    #[test]
    fn positional_arguments_work_like_keywords() {
        let e = engine(&Masker::default());
        assert_eq!(ok(&e, "{{ 'abcdef' | truncate(4, '~') }}"), "abc~");
        let hex = ok(&e, "{{ random_string(32, 'hex') }}");
        assert!(hex.as_str().expect("text").chars().all(|c| c.is_ascii_hexdigit()), "{hex}");
        assert!(ok(&e, "{{ now('unix') }}").is_i64());
        assert!(err(&e, "{{ now(format='%') }}").contains("now(format='%')"), "a bad strftime is an error");
    }

    #[test]
    fn every_fake_kind_makes_a_value() {
        let e = engine(&Masker::default());
        for kind in super::FAKE_KINDS {
            let v = ok(&e, &format!("{{{{ fake('{kind}') }}}}"));
            assert!(v.as_str().is_some_and(|s| !s.is_empty()), "{kind}: {v}");
        }
    }
}
