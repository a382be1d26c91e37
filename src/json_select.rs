//! Reading only what a step needs from a big JSON body.
//!
//! When every JSONPath a step reads is *simple* (`$`, then member names and non-negative
//! indexes: `$.data.items[3].meta['id']`), one pass over the body builds a pruned
//! document: the selected subtrees in full, and the objects and arrays on the way to them
//! with nothing else (arrays keep the selected positions, earlier ones padded with
//! `null`). A simple path gives the same answer on the pruned document as on the whole
//! one, and memory is the body plus what is selected instead of a full tree (about 6–15×
//! the body). The same pass collects the strings under secret-looking keys anywhere in
//! the body, as [`crate::secret::register_secret_fields`] does on a whole document.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::secret::is_secret_name;

/// One step of a simple path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A member name.
    Name(String),
    /// An array position from the start.
    Index(usize),
}

/// The steps of `path` when it is simple; `None` for anything else (wildcards,
/// descendants, slices, filters, negative indexes, several selectors).
pub fn simple_path(path: &str) -> Option<Vec<Seg>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            let ident = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !ident {
                return None;
            }
            out.push(Seg::Name(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inside = r[..close].trim();
            let quoted = |q: char| inside.strip_prefix(q).and_then(|s| s.strip_suffix(q));
            if let Some(name) = quoted('\'').or_else(|| quoted('"')) {
                if name.contains(['\\', '\'', '"']) {
                    return None; // escapes: leave them to the full reader
                }
                out.push(Seg::Name(name.to_string()));
            } else if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) {
                if inside.len() > 1 && inside.starts_with('0') {
                    return None;
                }
                out.push(Seg::Index(inside.parse().ok()?));
            } else {
                return None;
            }
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// The selected positions of a document.
#[derive(Debug, Default)]
struct Trie {
    /// A path ends here: the whole value is kept.
    leaf: bool,
    children: HashMap<Seg, Trie>,
}

impl Trie {
    fn new(paths: &[Vec<Seg>]) -> Self {
        let mut root = Trie::default();
        for path in paths {
            let mut node = &mut root;
            for seg in path {
                node = node.children.entry(seg.clone()).or_default();
            }
            node.leaf = true;
        }
        root
    }
}

/// What one pass over a body found.
#[derive(Debug)]
pub struct Selected {
    /// The pruned document.
    pub doc: Value,
    /// Strings under secret-looking keys, anywhere in the body.
    pub secrets: Vec<String>,
}

/// Reads `body` once, keeping what `paths` select (see the module doc). An error when
/// the body is not JSON.
pub fn select(body: &[u8], paths: &[Vec<Seg>]) -> Result<Selected, serde_json::Error> {
    let trie = Trie::new(paths);
    let mut secrets = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let doc = Walk { at: Some(&trie), secrets: &mut secrets }.deserialize(&mut de)?;
    de.end()?;
    Ok(Selected { doc: doc.unwrap_or(Value::Null), secrets })
}

/// The strings under secret-looking keys of a kept value (as `register_secret_fields`).
fn secret_fields(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if is_secret_name(k) => out.push(s.clone()),
                    other => secret_fields(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secret_fields(v, out)),
        _ => {}
    }
}

/// Reads one value: keeps it when `at` says (a leaf: whole; on the way: pruned), else only
/// looks for secret-looking keys in it. Returns the kept value.
struct Walk<'t, 's> {
    at: Option<&'t Trie>,
    secrets: &'s mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.at {
            Some(node) if node.leaf => {
                let value = Value::deserialize(d)?;
                secret_fields(&value, self.secrets);
                Ok(Some(value))
            }
            _ => d.deserialize_any(self),
        }
    }
}

/// A member name, borrowed from the body when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

use serde::Deserialize as _;

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = self.at.map(|_| serde_json::Map::new());
        while let Some(Name(key)) = map.next_key::<Name<'de>>()? {
            let child = self.at.and_then(|t| t.children.get(&Seg::Name(key.to_string())));
            let secret = is_secret_name(&key);
            if child.is_none() && !secret {
                map.next_value_seed(Walk { at: None, secrets: self.secrets })?;
                continue;
            }
            if child.is_none() {
                // A secret-looking key outside the selection: its strings are secrets.
                let value: Value = map.next_value()?;
                match value {
                    Value::String(s) => self.secrets.push(s),
                    other => secret_fields(&other, self.secrets),
                }
                continue;
            }
            let value = map.next_value_seed(Walk { at: child, secrets: self.secrets })?;
            if let Some(v) = value {
                if let (true, Value::String(s)) = (secret, &v) {
                    self.secrets.push(s.clone());
                }
                if let Some(k) = kept.as_mut() {
                    k.insert(key.into_owned(), v);
                }
            }
        }
        Ok(kept.map(Value::Object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut kept = self.at.map(|_| Vec::new());
        let mut i = 0;
        loop {
            let child = self.at.and_then(|t| t.children.get(&Seg::Index(i)));
            let Some(value) = seq.next_element_seed(Walk { at: child, secrets: self.secrets })? else {
                break;
            };
            if let (Some(k), Some(v)) = (kept.as_mut(), value.filter(|_| child.is_some())) {
                k.resize(i, Value::Null);
                k.push(v);
            }
            i += 1;
        }
        Ok(kept.map(Value::Array))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::String(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.at.map(|_| Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATHS: &[&str] = &[
        "$.data.items[2].meta.id",
        "$.data.count",
        "$['data']['items'][0]",
        "$.data.missing",
        "$.data.items[9]",
        "$.data.count.deeper",
        "$.list[1]",
        "$.token_type",
        "$.m[1][1]",
        "$.m[1]",
        "$.m[0][5]",
        "$['é']",
    ];

    fn doc() -> Value {
        json!({
            "data": {
                "count": 3,
                "items": [
                    {"id": 0, "meta": {"id": "a", "access_token": "tok-aaaaaaaa"}},
                    {"id": 1, "meta": {"id": "b"}, "client_secret": {"nested": "sec-bbbbbbbb"}},
                    {"id": 2, "meta": {"id": "c", "tags": [1, 2.5, null, true]}}
                ],
                "password": "pw-cccccccc"
            },
            "list": ["x", {"refresh_token": "rt-dddddddd"}],
            "token_type": "Bearer",
            "é\"q": "escaped key",
            "é": {"deep": [1, {"x": 2}]},
            "m": [[1], [2, {"k": "v"}]]
        })
    }

    #[test]
    fn simple_paths_are_names_and_indexes_only() {
        assert_eq!(
            simple_path("$.a['b c'][3]"),
            Some(vec![Seg::Name("a".into()), Seg::Name("b c".into()), Seg::Index(3)])
        );
        assert_eq!(simple_path("$"), Some(vec![]));
        for not in [
            "$..a",
            "$.a[*]",
            "$.a[-1]",
            "$.a[0:2]",
            "$.a[?@.b]",
            "$.a[0,1]",
            "a.b",
            "$.a.",
            "$['a\\'b']",
            "$.a[01]",
        ] {
            assert_eq!(simple_path(not), None, "{not}");
        }
    }

    #[test]
    fn a_pruned_document_answers_simple_paths_like_the_whole_one() {
        let whole = doc();
        let text = serde_json::to_vec(&whole).expect("json");
        let paths: Vec<Vec<Seg>> = PATHS.iter().map(|p| simple_path(p).expect("simple")).collect();
        let selected = select(&text, &paths).expect("selects");
        for p in PATHS {
            let path = serde_json_path::JsonPath::parse(p).expect("path");
            assert_eq!(path.query(&selected.doc).all(), path.query(&whole).all(), "{p}");
        }
        // The secrets the whole-document scan finds, and no others.
        let masker = crate::secret::Masker::default();
        crate::secret::register_secret_fields(&masker, &whole);
        let mut found = selected.secrets.clone();
        found.sort();
        assert_eq!(found, ["pw-cccccccc", "rt-dddddddd", "tok-aaaaaaaa"]);
        for s in &found {
            assert!(masker.contains_secret(s), "{s}");
        }
        // A secret-looking key over an object: its strings count only under such keys, alike.
        assert!(!masker.contains_secret("sec-bbbbbbbb"));
        // Only what was asked is kept.
        assert!(selected.doc["data"]["items"][1]["meta"].is_null(), "{}", selected.doc);
    }

    #[test]
    fn anything_that_is_not_json_is_an_error() {
        let paths = vec![simple_path("$.a").expect("simple")];
        for bad in ["", "{", "{\"a\": 1} trailing", "not json"] {
            assert!(select(bad.as_bytes(), &paths).is_err(), "{bad:?}");
        }
        assert_eq!(select(b"[1, 2]", &paths).expect("array").doc, json!([]));
    }
}
