//! YAML text → a positioned value tree.
//!
//! serde-saphyr does the parsing (duplicate keys rejected, YAML 1.2 booleans only,
//! alias-bomb and depth budgets on). We read into a generic tree whose every node
//! carries its [`Span`], so the model stage can report unknown fields, wrong types and
//! template errors at their exact position.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceFile, Span};

pub use crate::source::Key;

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is written.
    pub span: Span,
}

/// The shapes a YAML value can take.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (or an integer too large for i64).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// A short name of this node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to JSON (no templating), for literal values.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Value::Str(s) => s.clone().into(),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// Raw tree as serde-saphyr hands it over (locations not yet tied to a file).
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Raw>>()? {
            let v = map.next_value::<Spanned<Raw>>()?;
            entries.push((k, v));
        }
        Ok(Raw::Map(entries))
    }
}

fn span_of(file: &SourceFile, id: FileId, loc: &Location) -> Span {
    let s = loc.span();
    match (s.byte_offset(), s.byte_len()) {
        (Some(off), Some(len)) if loc.line() > 0 => {
            let start = usize::try_from(off).unwrap_or(0);
            Span::new(id, start, start + usize::try_from(len).unwrap_or(0))
        }
        _ if loc.line() > 0 => {
            let at = file.offset_of(loc.line() as usize, loc.column() as usize);
            Span::new(id, at, at)
        }
        _ => Span::new(id, 0, 0),
    }
}

fn convert(file: &SourceFile, id: FileId, raw: Spanned<Raw>) -> Result<Node, Diagnostic> {
    let span = span_of(file, id, &raw.referenced);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => {
            Value::Seq(items.into_iter().map(|i| convert(file, id, i)).collect::<Result<_, _>>()?)
        }
        Raw::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = convert(file, id, k)?;
                let name = match key.value {
                    Value::Str(s) => s,
                    Value::Int(i) => i.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Null => "null".to_string(),
                    Value::Seq(_) | Value::Map(_) => {
                        if let Some(d) = unquoted_template(file, id, key.span) {
                            return Err(d);
                        }
                        return Err(Diagnostic::error(Code::ComplexKey, "mapping keys must be plain text")
                            .at(key.span, "a list or mapping used as a key")
                            .help("write the key as a string"));
                    }
                };
                out.push((Key { name, span: key.span }, convert(file, id, v)?));
            }
            Value::Map(out)
        }
    };
    Ok(Node { value, span })
}

/// How deep YAML may nest (lists in mappings in lists…).
const MAX_DEPTH: usize = 64;

/// Parses one YAML document into a positioned tree.
pub fn parse(file: &SourceFile, id: FileId) -> Result<Node, Diagnostic> {
    if file.text.trim().is_empty()
        || file.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Diagnostic::error(Code::EmptyFile, "the collection is empty")
            .at(Span::new(id, 0, 0), "nothing here")
            .help("a collection needs at least `requests:` with one step; see `baton --help`"));
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        budget: serde_saphyr::budget! { max_depth: MAX_DEPTH },
    };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(&file.text, options) {
        Ok(raw) => convert(file, id, raw),
        Err(err) => Err(syntax_error(file, id, &err)),
    }
}

/// What kind of YAML problem an error is, read from serde-saphyr's typed variants.
enum Problem {
    /// A key given twice in one mapping.
    DuplicateKey(Option<String>),
    /// A budget (depth, aliases, size) was exceeded; the text says which.
    TooComplex(String),
    /// Anything else the parser refused.
    Syntax,
}

fn classify(err: &serde_saphyr::Error) -> Problem {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    const ALIASES: &str = "aliases expand to too many nodes (an alias bomb?)";
    match err {
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => classify(error),
        E::DuplicateMappingKey { key, .. } => Problem::DuplicateKey(key.clone()),
        E::Budget { breach: B::Depth { depth }, .. } => {
            Problem::TooComplex(format!("nested {depth} levels deep; the limit is {MAX_DEPTH}"))
        }
        E::Budget { breach: B::Nodes { .. } | B::Aliases { .. } | B::AliasAnchorRatio { .. }, .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => Problem::TooComplex(ALIASES.to_string()),
        E::Budget { .. } => Problem::TooComplex("the document exceeds baton's YAML size limits".to_string()),
        _ => Problem::Syntax,
    }
}

/// The first tab in a line's indentation, which YAML forbids.
fn indentation_tab(file: &SourceFile, id: FileId) -> Option<Span> {
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let indent = &line[..line.len() - line.trim_start().len()];
        if let Some(i) = indent.find('\t') {
            return Some(Span::new(id, offset + i, offset + i + 1));
        }
        offset += line.len();
    }
    None
}

/// The parser's own message, without the position it appends (we render ours).
fn parser_message(err: &serde_saphyr::Error) -> String {
    let message = err.to_string();
    message.split(" at line ").next().unwrap_or(&message).trim().to_string()
}

fn syntax_error(file: &SourceFile, id: FileId, err: &serde_saphyr::Error) -> Diagnostic {
    let at = err.location().map_or(Span::new(id, 0, 0), |loc| span_of(file, id, &loc));
    match classify(err) {
        Problem::DuplicateKey(key) => {
            let key = key.unwrap_or_default();
            let mut d =
                Diagnostic::error(Code::DuplicateKey, format!("invalid YAML: duplicate mapping key: {key}"));
            d = match first_key_above(file, id, at, &key) {
                Some(first) if !key.is_empty() => d.at(at, "second time").also(first, "first time"),
                _ => d.at(at, "here"),
            };
            d.help("each key may appear once in a mapping; remove or rename one")
        }
        Problem::TooComplex(what) => Diagnostic::error(Code::YamlTooComplex, format!("invalid YAML: {what}"))
            .at(at, "here")
            .help("the document exceeds baton's YAML limits (nesting depth, aliases, size); simplify it"),
        // The parser reports where it gave up; a tab in the indentation that caused it is
        // more useful.
        Problem::Syntax => match indentation_tab(file, id) {
            _ if let Some(d) = unquoted_template(file, id, at) => d,
            Some(tab) => {
                Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", parser_message(err)))
                    .at(tab, "here")
                    .help("YAML indentation must use spaces, not tabs: replace the tab with spaces")
            }
            None => Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", parser_message(err)))
                .at(at, "here")
                .help("check indentation, quoting and the `key: value` layout near this point"),
        },
    }
}

/// A value on the line of `at` that starts with `{{` unquoted: YAML reads `{` as the
/// start of a mapping, so the parser's own message says nothing useful.
fn unquoted_template(file: &SourceFile, id: FileId, at: Span) -> Option<Diagnostic> {
    let (line, _) = file.line_col(at.start.min(file.text.len()));
    let start = file.line_start(line);
    let text = file.text[start..].lines().next().unwrap_or("");
    let value_at = text.find(": {{").map(|i| i + 2).or_else(|| {
        let t = text.trim_start();
        t.strip_prefix("- ")
            .filter(|v| v.trim_start().starts_with("{{"))
            .map(|v| text.len() - v.trim_start().len())
    })?;
    let value = text[value_at..].trim_end();
    let quoted = if value.contains('\'') {
        format!("\"{}\"", value.replace('"', "\\\""))
    } else {
        format!("'{value}'")
    };
    let written = format!("{}{quoted}", &text[..value_at]).trim_start().to_string();
    Some(
        Diagnostic::error(Code::YamlSyntax, "invalid YAML: a value that starts with `{{` must be quoted")
            .at(
                Span::new(id, start + value_at, start + value_at + 2),
                "YAML reads `{` here as the start of a mapping",
            )
            .help(format!("quote the whole value: `{written}`")),
    )
}

/// The earlier occurrence of `key` in the same block mapping as the one at `span`:
/// the nearest line above at the same indentation, before the block ends.
fn first_key_above(file: &SourceFile, id: FileId, span: Span, key: &str) -> Option<Span> {
    let (line, col) = file.line_col(span.start);
    let indent = col - 1;
    for l in (1..line).rev() {
        let start = file.line_start(l);
        let text = file.text[start..].lines().next().unwrap_or("");
        let trimmed = text.trim_start_matches([' ', '-']);
        let at = text.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if at < indent {
            return None;
        }
        if at == indent && trimmed.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')) {
            return Some(Span::new(id, start + at, start + at + key.len()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    /// Parses `text` as file `t.yaml`; the map resolves the spans of the result.
    fn parse_str(text: &str) -> (SourceMap, Result<Node, Diagnostic>) {
        let mut map = SourceMap::default();
        let id = map.add("t.yaml", text.to_string());
        let result = parse(map.get(id).expect("file"), id);
        (map, result)
    }

    fn entries(node: &Node) -> &[(Key, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            _ => panic!("expected a mapping, got {}", node.type_name()),
        }
    }

    #[test]
    fn mapping_keeps_source_order_and_every_span_points_at_its_text() {
        let (map, node) = parse_str("zeta: 1\nalpha: \"two\"\nmid: [a, b]\n");
        let node = node.expect("valid");
        let keys: Vec<&str> = entries(&node).iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"], "source order, not sorted");
        let (alpha, value) = &entries(&node)[1];
        assert_eq!(map.text(alpha.span), "alpha");
        assert_eq!(map.position(alpha.span), "t.yaml:2:1");
        assert_eq!(value.as_str(), Some("two"));
        assert_eq!(map.position(value.span), "t.yaml:2:8");
    }

    #[test]
    fn scalars_get_yaml_1_2_types() {
        let (_, node) = parse_str("a: true\nb: yes\nc: 42\nd: 1.5\ne: ~\nf:\ng: '42'\n");
        let node = node.expect("valid");
        let types: Vec<&str> = entries(&node).iter().map(|(_, v)| v.type_name()).collect();
        // `yes` is a string in YAML 1.2; a quoted number stays a string.
        assert_eq!(types, ["a boolean", "a string", "an integer", "a number", "null", "null", "a string"]);
    }

    #[test]
    fn integers_beyond_i64_become_floats_instead_of_failing() {
        let (_, node) = parse_str("big: 18446744073709551615\n");
        let node = node.expect("valid");
        assert!(
            matches!(entries(&node)[0].1.value, Value::Float(f) if f > 1.8e19),
            "{:?}",
            entries(&node)[0].1
        );
    }

    #[test]
    fn to_json_keeps_nesting_types_and_key_order() {
        let (_, node) = parse_str("b: [1, {x: null}]\na: 2.5\nc: text\nd: false\n");
        let json = node.expect("valid").to_json();
        let text = serde_json::to_string(&json).expect("json");
        assert_eq!(text, r#"{"b":[1,{"x":null}],"a":2.5,"c":"text","d":false}"#);
    }

    #[test]
    fn empty_and_comment_only_files_are_one_empty_file_error_at_the_start() {
        for text in ["", "  \n\n", "# only a comment\n  # and another\n"] {
            let (map, result) = parse_str(text);
            let d = result.expect_err("empty");
            assert_eq!(d.code, "empty-file", "{text:?}");
            assert_eq!(map.position(d.labels[0].span), "t.yaml:1:1");
            assert!(d.help.as_deref().is_some_and(|h| h.contains("requests:")), "{:?}", d.help);
        }
    }

    #[test]
    fn duplicate_key_points_at_both_occurrences_in_the_same_block() {
        // A `name:` in an earlier block must not be taken for the first occurrence.
        let text = "one:\n  name: a\ntwo:\n  name: b\n  other: 1\n  name: c\n";
        let (map, result) = parse_str(text);
        let d = result.expect_err("duplicate");
        assert_eq!(d.code, "duplicate-key");
        let primary = d.labels.iter().find(|l| l.primary).expect("primary");
        let first = d.labels.iter().find(|l| !l.primary).expect("first occurrence");
        assert_eq!(map.position(primary.span), "t.yaml:6:3");
        assert_eq!(map.position(first.span), "t.yaml:4:3");
        assert_eq!(map.text(first.span), "name");
        assert!(!d.message.contains("DuplicateKeyPolicy"), "parser internals leaked: {}", d.message);
    }

    #[test]
    fn tab_indentation_points_at_the_tab_itself() {
        let (map, result) = parse_str("requests:\n\t- url: x\n");
        let d = result.expect_err("tab");
        assert_eq!(d.code, "yaml-syntax");
        assert_eq!(map.position(d.labels[0].span), "t.yaml:2:1");
        assert_eq!(map.text(d.labels[0].span), "\t");
        assert!(d.help.as_deref().is_some_and(|h| h.contains("spaces, not tabs")), "{:?}", d.help);
    }

    #[test]
    fn a_list_used_as_a_key_is_a_complex_key_error() {
        let (map, result) = parse_str("? [a, b]\n: 1\n");
        let d = result.expect_err("complex key");
        assert_eq!(d.code, "complex-key");
        assert_eq!(map.position(d.labels[0].span), "t.yaml:1:3");
    }

    #[test]
    fn scalar_keys_are_read_as_their_text() {
        let (_, node) = parse_str("1: a\ntrue: b\n~: c\n");
        let node = node.expect("valid");
        let keys: Vec<&str> = entries(&node).iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(keys, ["1", "true", "null"]);
    }

    #[test]
    fn deep_nesting_is_refused_with_the_limit_in_words() {
        let text = format!("a: {}1{}\n", "[".repeat(100), "]".repeat(100));
        let (_, result) = parse_str(&text);
        let d = result.expect_err("too deep");
        assert_eq!(d.code, "yaml-too-complex");
        assert!(d.message.contains("the limit is 64"), "{}", d.message);
    }

    #[test]
    fn alias_expansion_beyond_the_budget_is_an_alias_bomb() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in
            ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            let row = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{row}]\n"));
        }
        let (_, result) = parse_str(&text);
        let d = result.expect_err("bomb");
        assert_eq!(d.code, "yaml-too-complex");
        assert!(d.message.contains("alias bomb"), "{}", d.message);
    }
}
