//! Templates: minijinja with strict undefined, typed single expressions and our functions.
//!
//! Every string in a collection that contains `{{` or `{%` is compiled once per run.
//! A string that is exactly one `{{ expression }}` is evaluated as an expression and
//! keeps its type (number, bool, null, list, map); anything else renders to text.
//! Errors map back from the template to the YAML `file:line:col`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use minijinja::value::{Kwargs, Object, Value as MjValue};
use minijinja::{
    Environment, Error as MjError, ErrorKind, Expression, Template as MjTemplate, UndefinedBehavior,
};

use crate::diagnostic::{Code, Diagnostic};
use crate::secret::Masker;
use crate::source::{SourceMap, Span};
use crate::yaml::{Node, Value};

/// Functions available in templates (excluded from "undefined variable" checks).
pub const FUNCTIONS: &[&str] = &[
    "env",
    "secret_env",
    "uuid",
    "now",
    "today",
    "fake",
    "random_int",
    "random_string",
    // minijinja's own
    "range",
    "dict",
    "namespace",
];
/// Filters baton adds to minijinja's builtins.
pub const EXTRA_FILTERS: &[&str] =
    &["b64encode", "b64decode", "regex_replace", "regex_search", "nth", "jwt_claims", "truncate"];
/// minijinja's builtin filters (it resolves filters only when rendering, so validation
/// checks names against this list to catch a typo before anything is sent).
const BUILTIN_FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "int",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "bool",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "tojson",
    "urlencode",
];

/// The first unknown filter used in `source`, with its byte range.
fn unknown_filter(source: &str) -> Option<(String, std::ops::Range<usize>)> {
    // Blank out quoted strings so a `|` inside a literal is not taken for a filter.
    let mut masked = String::with_capacity(source.len());
    let mut quote: Option<char> = None;
    for c in source.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                masked.push(c);
            }
            Some(_) => masked.extend(std::iter::repeat_n(' ', c.len_utf8())),
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                masked.push(c);
            }
        }
    }
    static FILTER: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)").expect("filter regex"));
    FILTER.captures_iter(&masked).find_map(|c| {
        let m = c.get(1)?;
        let name = m.as_str();
        (!BUILTIN_FILTERS.contains(&name) && !EXTRA_FILTERS.contains(&name))
            .then(|| (name.to_string(), m.range()))
    })
}

/// The process environment as seen by `env()` / `secret_env()`.
pub type EnvMap = Arc<HashMap<String, String>>;

/// The template environment for one run.
pub struct Engine {
    env: Environment<'static>,
    generators: crate::functions::Generators,
}

fn fail(msg: impl Into<String>) -> MjError {
    MjError::new(ErrorKind::InvalidOperation, msg.into())
}

/// Reads an environment variable; `default=` (which may be `none`) applies when it is unset.
fn lookup(vars: &EnvMap, name: &str, kwargs: &Kwargs, func: &str) -> Result<MjValue, MjError> {
    let has_default = kwargs.has("default");
    let default: Option<MjValue> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    match vars.get(name) {
        Some(v) => Ok(MjValue::from(v.as_str())),
        None if has_default => Ok(default.unwrap_or(MjValue::from(()))),
        None => Err(fail(format!("environment variable `{name}` is not set (read by `{func}()`)"))
            .with_source(MissingEnv(name.to_string()))),
    }
}

impl Engine {
    /// Builds the environment; `env_vars` backs `env()`, `masker` learns `secret_env()` values.
    pub fn new(env_vars: EnvMap, masker: Masker) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_recursion_limit(64);
        env.set_fuel(Some(TEMPLATE_FUEL));
        // A `{{ }}` in text is written out piece by piece; refuse a value too large to
        // write before it is walked (`[x] * 99999999` is lazy, its text is not).
        env.set_formatter(|out, state, value| {
            if !renderable(value) {
                return Err(MjError::new(ErrorKind::WriteFailure, "rendered value too large")
                    .with_source(TooLargeMark));
            }
            minijinja::escape_formatter(out, state, value)
        });
        let vars = env_vars.clone();
        env.add_function("env", move |name: String, kwargs: Kwargs| lookup(&vars, &name, &kwargs, "env"));
        let vars = env_vars;
        let m = masker.clone();
        env.add_function("secret_env", move |name: String, kwargs: Kwargs| {
            let v = lookup(&vars, &name, &kwargs, "secret_env")?;
            if let Some(s) = v.as_str() {
                m.add(s);
            }
            Ok(v)
        });
        let m = masker.clone();
        env.add_filter("b64encode", move |s: String| {
            let out = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            m.propagate(&s, &out);
            out
        });
        let generators = crate::functions::Generators::default();
        crate::functions::register(&mut env, &masker, &generators);
        let m = masker;
        env.add_filter("b64decode", move |s: String| -> Result<String, MjError> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.trim().as_bytes())
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim().as_bytes()))
                .map_err(|e| fail(format!("b64decode: {e}")))?;
            let out =
                String::from_utf8(bytes).map_err(|_| fail("b64decode: the decoded bytes are not UTF-8"))?;
            m.propagate(&s, &out);
            Ok(out)
        });
        Engine { env, generators }
    }

    /// Makes every generated value (`fake()`, `random_int()`, `uuid()`…) repeatable:
    /// the same seed gives the same values in the same order.
    pub fn seed(&self, seed: u64) {
        self.generators.seed(seed);
    }

    /// Compiles a YAML value (strings may hold templates) into a renderable form.
    pub fn compile<'a>(
        &'a self,
        node: &'a Node,
        sources: &SourceMap,
    ) -> Result<Template<'a>, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let c = self.compile_into(node, sources, &mut diags);
        if diags.is_empty() { Ok(c) } else { Err(diags) }
    }

    /// Compiles a YAML value, adding its problems to `diags` (the result is then a
    /// placeholder that renders to null).
    pub fn compile_into<'a>(
        &'a self,
        node: &'a Node,
        sources: &SourceMap,
        diags: &mut Vec<Diagnostic>,
    ) -> Template<'a> {
        self.compiler().compile_into(node, sources, diags)
    }

    /// A compiler that shares each distinct expression among every value that uses it
    /// (a collection's `{{ base_url }}` and `{{ token }}` are compiled once, not once per
    /// step), for compiling a whole collection.
    pub fn compiler(&self) -> Compiler<'_> {
        Compiler { engine: self, exprs: HashMap::new() }
    }
}

/// An expression compiled once and shared by every value with the same source.
type SharedExpr<'a> = Arc<Expression<'a, 'a>>;

/// Compiles values with one cache of expressions (see [`Engine::compiler`]).
pub struct Compiler<'a> {
    engine: &'a Engine,
    exprs: HashMap<&'a str, SharedExpr<'a>>,
}

impl<'a> Compiler<'a> {
    /// Compiles a YAML value, adding its problems to `diags` (the result is then a
    /// placeholder that renders to null).
    pub fn compile_into(
        &mut self,
        node: &'a Node,
        sources: &SourceMap,
        diags: &mut Vec<Diagnostic>,
    ) -> Template<'a> {
        let kind = self.compile_kind(node, sources, diags);
        Template { span: node.span, kind }
    }

    /// The expression `source`, compiled once.
    fn expression(&mut self, source: &'a str) -> Result<SharedExpr<'a>, MjError> {
        if let Some(e) = self.exprs.get(source) {
            return Ok(Arc::clone(e));
        }
        let e = Arc::new(self.engine.env.compile_expression(source)?);
        self.exprs.insert(source, Arc::clone(&e));
        Ok(e)
    }

    /// `s` as literal text and `{{ expressions }}`, each compiled (and shared), when that
    /// is all it holds; `None` sends it to the full template engine.
    fn pieces(&mut self, s: &'a str) -> Option<Vec<Piece<'a>>> {
        let mut out = Vec::new();
        for (is_expr, range) in split_expressions(s)? {
            let text = &s[range];
            if is_expr {
                out.push(Piece::Expr(self.expression(text).ok()?, text));
            } else {
                out.push(Piece::Text(text));
            }
        }
        Some(out)
    }

    fn compile_kind(&mut self, node: &'a Node, sources: &SourceMap, diags: &mut Vec<Diagnostic>) -> Kind<'a> {
        match &node.value {
            Value::Str(s) if s.contains("{{") || s.contains("{%") || s.contains("{#") => {
                let at = Site::new(node);
                if let Some((name, range)) = unknown_filter(s) {
                    let known = BUILTIN_FILTERS.iter().chain(EXTRA_FILTERS).copied();
                    let help = match crate::diagnostic::did_you_mean(&name, known) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => {
                            format!("baton adds {} to minijinja's builtin filters", EXTRA_FILTERS.join(", "))
                        }
                    };
                    diags.push(
                        Diagnostic::error(Code::UnknownFilter, format!("unknown filter `{name}`"))
                            .at(at.locate_range(sources, range), "not a filter")
                            .help(help),
                    );
                    return Kind::Literal(serde_json::Value::Null);
                }
                if let Some(expr) = single_expression(s) {
                    match self.expression(expr) {
                        Ok(e) => return Kind::Expr(e, at),
                        Err(e) => {
                            diags.push(at.diagnostic(&e, sources, expr_offset(s)));
                            return Kind::Literal(serde_json::Value::Null);
                        }
                    }
                }
                // Text with `{{ }}` only (`{{ base }}/items/{{ id }}`): no template to build.
                // Anything else, or a piece that does not compile, goes to the full engine,
                // which also words its syntax errors.
                if let Some(pieces) = self.pieces(s) {
                    return Kind::Pieces(pieces, at);
                }
                match self.engine.env.template_from_str(s) {
                    Ok(t) => Kind::Text(Box::new(t), at),
                    Err(e) => {
                        diags.push(at.diagnostic(&e, sources, 0));
                        Kind::Literal(serde_json::Value::Null)
                    }
                }
            }
            Value::Seq(items) => {
                Kind::Seq(items.iter().map(|n| self.compile_into(n, sources, diags)).collect())
            }
            Value::Map(entries) => Kind::Map(
                entries.iter().map(|(k, v)| (k.name.clone(), self.compile_into(v, sources, diags))).collect(),
            ),
            _ => Kind::Literal(node.to_json()),
        }
    }
}

/// `s` cut into literal text and `{{ expression }}` insides (byte ranges, `true` for an
/// expression), when those are its only tags: `None` for statements, comments,
/// whitespace control (`{{-`), an unclosed tag or anything unusual, which the full
/// template engine handles.
fn split_expressions(s: &str) -> Option<Vec<(bool, std::ops::Range<usize>)>> {
    if s.contains("{%") || s.contains("{#") {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = s[at..].find("{{").map(|i| at + i) {
        if open > at {
            out.push((false, at..open));
        }
        let inner = open + 2;
        let close = find_close(s, inner)?;
        let expr = &s[inner..close];
        if expr.starts_with('-') || expr.ends_with('-') || expr.contains("{{") || expr.trim().is_empty() {
            return None;
        }
        out.push((true, inner..close));
        at = close + 2;
    }
    if s[at..].contains("}}") {
        return None;
    }
    if at < s.len() {
        out.push((false, at..s.len()));
    }
    Some(out)
}

/// Where the `}}` that closes a tag opened before `from` is, outside string literals.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// Where a template sits in the YAML, for mapping errors back.
#[derive(Debug, Clone)]
pub struct Site {
    /// The YAML scalar's span.
    pub span: Span,
    /// The template text (the scalar's value).
    pub source: String,
}

impl Site {
    fn new(node: &Node) -> Self {
        Site { span: node.span, source: node.as_str().unwrap_or_default().to_string() }
    }

    /// The span of `needle` (a piece of the template) inside the YAML scalar.
    pub fn locate(&self, sources: &SourceMap, needle: &str) -> Span {
        self.locate_nth(sources, needle, 0)
    }

    /// The span of the piece of the template at `range` (byte offsets into the template
    /// text): the same occurrence of that text in the YAML scalar, so the second of two
    /// equal pieces is found as the second, whatever quoting and escapes surround them.
    pub fn locate_range(&self, sources: &SourceMap, range: std::ops::Range<usize>) -> Span {
        let Some(piece) = self.source.get(range.clone()) else { return self.span };
        let before = self.source.get(..range.start).map_or(0, |b| b.matches(piece).count());
        self.locate_nth(sources, piece, before)
    }

    fn locate_nth(&self, sources: &SourceMap, needle: &str, n: usize) -> Span {
        let raw = sources.text(self.span);
        if !needle.is_empty()
            && let Some((i, _)) =
                raw.match_indices(needle).nth(n).or_else(|| raw.match_indices(needle).next())
        {
            return self.span.sub(i, i + needle.len());
        }
        self.span
    }

    /// Span of the first use of variable `name` in this template.
    pub fn locate_var(&self, sources: &SourceMap, name: &str) -> Span {
        let raw = sources.text(self.span);
        if name.is_empty() {
            return self.span;
        }
        let bytes = raw.as_bytes();
        let mut from = 0;
        while let Some(i) = raw[from..].find(name).map(|i| i + from) {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + name.len()).copied();
            let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !word(before) && before != Some(b'.') && !word(after) {
                return self.span.sub(i, i + name.len());
            }
            from = i + name.len();
        }
        self.span
    }

    /// Turns a minijinja error into a positioned diagnostic.
    fn diagnostic(&self, e: &MjError, sources: &SourceMap, offset: usize) -> Diagnostic {
        let at =
            e.range().map_or(self.span, |r| self.locate_range(sources, r.start + offset..r.end + offset));
        let (code, help) = match e.kind() {
            ErrorKind::SyntaxError => (
                Code::TemplateSyntax,
                "templates use minijinja (Jinja2) syntax: `{{ name }}`, `{{ value | b64encode }}`"
                    .to_string(),
            ),
            ErrorKind::UnknownFilter => (
                Code::UnknownFilter,
                format!("baton adds {} to minijinja's builtin filters", EXTRA_FILTERS.join(", ")),
            ),
            ErrorKind::UnknownFunction => {
                (Code::UnknownFunction, format!("available functions: {}", FUNCTIONS.join(", ")))
            }
            _ => (Code::TemplateError, "check the template expression".to_string()),
        };
        Diagnostic::error(code, format!("{}: {}", e.kind(), e.detail().unwrap_or("invalid template")))
            .at(at, "in this template")
            .help(help)
    }
}

fn expr_offset(s: &str) -> usize {
    s.find("{{").map_or(0, |i| i + 2)
}

/// If `s` is exactly one `{{ expression }}` (whitespace around allowed), the expression.
pub fn single_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    // Only when the `{{` starts the trimmed text does the whole value equal the expression.
    (t.len() == s.len() || s.trim() == t).then_some(inner)
}

/// A compiled value of a collection (a YAML value whose strings may hold templates),
/// with the position it was written at.
pub struct Template<'a> {
    span: Span,
    kind: Kind<'a>,
}

impl std::fmt::Debug for Template<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template").field("span", &self.span).finish_non_exhaustive()
    }
}

enum Kind<'a> {
    /// No template inside: the value as is.
    Literal(serde_json::Value),
    /// Mixed text: renders to a string.
    Text(Box<MjTemplate<'a, 'a>>, Site),
    /// Text whose only tags are `{{ expressions }}`: renders to a string, piece by piece.
    Pieces(Vec<Piece<'a>>, Site),
    /// Exactly one expression: keeps its type.
    Expr(SharedExpr<'a>, Site),
    /// A list.
    Seq(Vec<Template<'a>>),
    /// A mapping.
    Map(Vec<(String, Template<'a>)>),
}

/// A piece of a [`Kind::Pieces`] value.
enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// An expression (and its source, for messages).
    Expr(SharedExpr<'a>, &'a str),
}

/// `env()`/`secret_env()` read a variable that is not set (carried as the source of the
/// template error, so validation knows the cause without reading the message).
#[derive(Debug, thiserror::Error)]
#[error("environment variable `{0}` is not set")]
struct MissingEnv(String);

/// Why a value could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderCause {
    /// A variable that is not defined.
    Undefined(String),
    /// An environment variable read by `env()`/`secret_env()` that is not set.
    MissingEnv(String),
    /// A value of the wrong shape for where it is used (an object as a URL, say).
    WrongType,
    /// The value would be larger than [`MAX_RENDERED`].
    TooLarge,
    /// Anything else the template engine refused.
    Other,
}

/// A render failure with its YAML position.
#[derive(Debug, Clone)]
pub struct RenderError {
    /// Where.
    pub span: Span,
    /// What went wrong.
    pub message: String,
    /// The cause, as data.
    pub cause: RenderCause,
}

impl RenderError {
    /// As a diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(Code::RenderError, self.message.clone()).at(self.span, "while rendering this value")
    }
}

/// The work one render may do: each engine step costs one, and each [`BYTES_PER_FUEL`]
/// bytes of data it builds or writes (text, list and map slots) cost one more, so this
/// bounds time and memory both.
pub const TEMPLATE_FUEL: u64 = 200_000;
/// The data one unit of minijinja's fuel pays for.
const BYTES_PER_FUEL: u64 = 64;

/// The most a rendered value may hold: its text, plus [`ENTRY_COST`] for each list or map
/// entry. Data a template builds is bounded much lower by the engine's fuel (about 12 MiB);
/// this bounds what it only passes on or repeats lazily (`[x] * n`), before it is copied.
pub const MAX_RENDERED: u64 = 256 * 1024 * 1024;
/// What one list or map entry counts toward [`MAX_RENDERED`]: about what it takes in memory.
const ENTRY_COST: u64 = 32;

fn spend(budget: &mut u64, n: u64) -> bool {
    budget.checked_sub(n).map(|left| *budget = left).is_some()
}

/// Whether `v` fits in `budget` (see [`MAX_RENDERED`]). A sized list or map is charged for
/// its length before any of it is visited, so the walk ends after at most `budget /
/// ENTRY_COST` entries however long the value claims to be.
fn fits(v: &MjValue, budget: &mut u64) -> bool {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::String => spend(budget, v.as_str().map_or(0, str::len) as u64),
        ValueKind::Bytes => spend(budget, v.as_bytes().map_or(0, <[u8]>::len) as u64),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let sized = v.len();
            if let Some(n) = sized
                && !spend(budget, (n as u64).saturating_mul(ENTRY_COST))
            {
                return false;
            }
            let Ok(items) = v.try_iter() else { return true };
            let is_map = v.kind() == ValueKind::Map;
            for item in items {
                if sized.is_none() && !spend(budget, ENTRY_COST) {
                    return false;
                }
                let value = if is_map { v.get_item(&item).unwrap_or_default() } else { MjValue::from(()) };
                if !fits(&item, budget) || !fits(&value, budget) {
                    return false;
                }
            }
            true
        }
        _ => spend(budget, 16),
    }
}

/// Whether `v` is within [`MAX_RENDERED`].
fn renderable(v: &MjValue) -> bool {
    let mut budget = MAX_RENDERED;
    fits(v, &mut budget)
}

/// Carried as the source of the formatter's error, so rendering knows the cause.
#[derive(Debug, thiserror::Error)]
#[error("rendered value too large")]
struct TooLargeMark;

fn marked_too_large(e: &MjError) -> bool {
    std::iter::successors(std::error::Error::source(e), |e| e.source()).any(|e| e.is::<TooLargeMark>())
}

fn too_large(site: &Site) -> RenderError {
    RenderError {
        span: site.span,
        message: format!(
            "this value renders to more than {}, the most a rendered value may hold",
            crate::http::human_size(MAX_RENDERED)
        ),
        cause: RenderCause::TooLarge,
    }
}

fn to_json(v: &MjValue, site: &Site) -> Result<serde_json::Value, RenderError> {
    if !renderable(v) {
        return Err(too_large(site));
    }
    serde_json::to_value(v).map_err(|e| RenderError {
        span: site.span,
        message: format!("cannot turn the value into JSON: {e}"),
        cause: RenderCause::WrongType,
    })
}

impl Template<'_> {
    /// Whether the value contains no template.
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Literal(_))
    }

    /// Where the value is written.
    pub fn span(&self) -> Span {
        self.span
    }

    /// The text of a literal string value.
    pub fn literal_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Literal(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The text a string value starts with before its first template tag: the whole
    /// text of a literal string, the part before `{{` of a template.
    pub fn text_prefix(&self) -> Option<&str> {
        match &self.kind {
            Kind::Literal(serde_json::Value::String(s)) => Some(s),
            Kind::Text(_, site) | Kind::Expr(_, site) | Kind::Pieces(_, site) => {
                let s = site.source.as_str();
                let end = ["{{", "{%", "{#"].iter().filter_map(|t| s.find(t)).min().unwrap_or(s.len());
                Some(&s[..end])
            }
            _ => None,
        }
    }

    /// Renders like [`Template::render`]; each templated string that read a secret but does
    /// not show it as such becomes a secret (lists and mappings are judged per entry).
    fn render_tainting(
        &self,
        ctx: &MjValue,
        sources: &SourceMap,
        masker: &Masker,
    ) -> Result<serde_json::Value, RenderError> {
        match &self.kind {
            Kind::Seq(items) => items
                .iter()
                .map(|c| c.render_tainting(ctx, sources, masker))
                .collect::<Result<Vec<_>, _>>()
                .map(Into::into),
            Kind::Map(entries) => {
                let mut out = serde_json::Map::with_capacity(entries.len());
                for (k, c) in entries {
                    out.insert(k.clone(), c.render_tainting(ctx, sources, masker)?);
                }
                Ok(out.into())
            }
            _ => {
                let value = self.render(ctx, sources)?;
                if self.reads_secret(ctx, masker) {
                    taint(&value, masker);
                }
                Ok(value)
            }
        }
    }

    /// Whether rendering this value reads a secret: it calls `secret_env()` or reads a
    /// variable whose value holds a registered secret.
    fn reads_secret(&self, vars: &MjValue, masker: &Masker) -> bool {
        let reads = |names: std::collections::HashSet<String>, site: &Site| {
            site.source.contains("secret_env")
                || names.iter().any(|n| {
                    vars.get_attr(n).ok().filter(|v| !v.is_undefined()).is_some_and(|v| {
                        let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        masker.contains_secret(&text)
                    })
                })
        };
        match &self.kind {
            Kind::Literal(_) => false,
            Kind::Seq(items) => items.iter().any(|t| t.reads_secret(vars, masker)),
            Kind::Map(entries) => entries.iter().any(|(_, t)| t.reads_secret(vars, masker)),
            _ => self.names().is_some_and(|(names, site)| reads(names, site)),
        }
    }

    /// The variables a templated string reads (functions included), and where it is.
    fn names(&self) -> Option<(HashSet<String>, &Site)> {
        match &self.kind {
            Kind::Text(t, site) => Some((t.undeclared_variables(false), site)),
            Kind::Expr(e, site) => Some((e.undeclared_variables(false), site)),
            Kind::Pieces(pieces, site) => {
                let mut names = HashSet::new();
                for piece in pieces {
                    if let Piece::Expr(e, _) = piece {
                        names.extend(e.undeclared_variables(false));
                    }
                }
                Some((names, site))
            }
            _ => None,
        }
    }

    /// Renders with `ctx` as the variables.
    pub fn render(&self, ctx: &MjValue, sources: &SourceMap) -> Result<serde_json::Value, RenderError> {
        match &self.kind {
            Kind::Literal(v) => Ok(v.clone()),
            Kind::Text(t, site) => {
                // Every byte written is charged to the fuel; the formatter refuses one value
                // too large to write.
                t.render(ctx).map(serde_json::Value::String).map_err(|e| {
                    if marked_too_large(&e) { too_large(site) } else { render_error(&e, site, sources) }
                })
            }
            Kind::Pieces(pieces, site) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Expr(e, source) => {
                            let v = eval(e, source, site, ctx, sources)?;
                            if !renderable(&v) {
                                return Err(too_large(site));
                            }
                            use std::fmt::Write as _;
                            let _ = write!(out, "{v}");
                            if out.len() as u64 > MAX_RENDERED {
                                return Err(too_large(site));
                            }
                        }
                    }
                }
                Ok(serde_json::Value::String(out))
            }
            Kind::Expr(e, site) => {
                let source = single_expression(&site.source).unwrap_or(&site.source);
                let v = eval(e, source, site, ctx, sources)?;
                to_json(&v, site)
            }
            Kind::Seq(items) => {
                items.iter().map(|c| c.render(ctx, sources)).collect::<Result<Vec<_>, _>>().map(Into::into)
            }
            Kind::Map(entries) => {
                let mut out = serde_json::Map::with_capacity(entries.len());
                for (k, c) in entries {
                    out.insert(k.clone(), c.render(ctx, sources)?);
                }
                Ok(out.into())
            }
        }
    }

    /// Every variable this value reads, with the span of its first use.
    pub fn variables(&self, sources: &SourceMap, out: &mut Vec<(String, Span)>) {
        let mut add = |names: std::collections::HashSet<String>, site: &Site| {
            let mut names: Vec<String> =
                names.into_iter().filter(|n| !FUNCTIONS.contains(&n.as_str())).collect();
            names.sort();
            for n in names {
                let span = site.locate_var(sources, &n);
                out.push((n, span));
            }
        };
        match &self.kind {
            Kind::Seq(items) => items.iter().for_each(|c| c.variables(sources, out)),
            Kind::Map(entries) => entries.iter().for_each(|(_, c)| c.variables(sources, out)),
            _ => {
                if let Some((names, site)) = self.names() {
                    add(names, site);
                }
            }
        }
    }
}

impl Template<'_> {
    /// Adds each variable this value reads without a guard: not under `| default(…)`,
    /// `is defined`/`is undefined`, or inside `{% if name is defined %}`. A variable read
    /// only with a guard may be undefined when the value is rendered.
    pub fn unguarded_variables(&self, out: &mut HashSet<String>) {
        let mut add = |names: HashSet<String>, site: &Site| {
            out.extend(names.into_iter().filter(|n| !FUNCTIONS.contains(&n.as_str()) && !site.guarded(n)));
        };
        match &self.kind {
            Kind::Seq(items) => items.iter().for_each(|c| c.unguarded_variables(out)),
            Kind::Map(entries) => entries.iter().for_each(|(_, c)| c.unguarded_variables(out)),
            _ => {
                if let Some((names, site)) = self.names() {
                    add(names, site);
                }
            }
        }
    }
}

/// The `{{ … }}` and `{% … %}` tags of a template, in order.
static TAGS: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}").expect("tag regex"));

impl Site {
    /// Whether every use of variable `name` is guarded (see
    /// [`Template::unguarded_variables`]).
    fn guarded(&self, name: &str) -> bool {
        // Most templates have no guard at all.
        if !["default", "defined", "|d", "| d"].iter().any(|g| self.source.contains(g)) {
            return false;
        }
        // How deep inside `{% if name is defined %}` blocks each tag is (0: not inside).
        let mut depth: Vec<usize> = Vec::new();
        for m in TAGS.find_iter(&self.source) {
            let tag = m.as_str();
            let words: Vec<&str> = tag
                .trim_start_matches("{%")
                .trim_end_matches("%}")
                .trim_matches('-')
                .split_whitespace()
                .collect();
            let statement = tag.starts_with("{%");
            if statement && words.first() == Some(&"endif") {
                depth.pop();
                continue;
            }
            let inside = depth.last().is_some_and(|guards| *guards > 0);
            if !inside && uses_unguarded(tag, name) {
                return false;
            }
            if statement && words.first() == Some(&"if") {
                let opens = usize::from(words[1..] == [name, "is", "defined"]);
                depth.push(depth.last().copied().unwrap_or(0) + opens);
            }
        }
        true
    }
}

/// Whether `tag` reads `name` somewhere without `| default(…)`/`| d(…)` or
/// `is [not] defined`/`is [not] undefined` right after the name and its fields.
fn uses_unguarded(tag: &str, name: &str) -> bool {
    let blanked = blank_strings(tag);
    let tag = blanked.as_str();
    let bytes = tag.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| ident(b) || b == b'.')
            || bytes.get(i + name.len()).is_some_and(|&b| ident(b))
        {
            return false; // part of another name, or a field of something else
        }
        // Skip the fields and indexes read from it: `.a`, `['b']`, `[0]`.
        let mut k = i + name.len();
        loop {
            match bytes.get(k) {
                Some(b'.') => {
                    k += 1;
                    while bytes.get(k).is_some_and(|&b| ident(b)) {
                        k += 1;
                    }
                }
                Some(b'[') => match tag[k..].find(']') {
                    Some(close) => k += close + 1,
                    None => break,
                },
                _ => break,
            }
        }
        let rest = tag[k..].trim_start();
        fn word<'t>(s: &'t str, w: &str) -> Option<&'t str> {
            s.strip_prefix(w)
                .filter(|r| !r.as_bytes().first().is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_'))
        }
        let filtered = rest
            .strip_prefix('|')
            .map(str::trim_start)
            .is_some_and(|r| word(r, "default").is_some() || word(r, "d").is_some());
        let tested = word(rest, "is").map(str::trim_start).is_some_and(|r| {
            let r = word(r, "not").map_or(r, str::trim_start);
            word(r, "defined").is_some() || word(r, "undefined").is_some()
        });
        !(filtered || tested)
    })
}

/// `tag` with the text of its string literals blanked out (`'z'` → `' '`), so a name
/// inside a string is not a use of the variable.
fn blank_strings(tag: &str) -> String {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    tag.chars()
        .map(|c| match quote {
            Some(_) if escaped => {
                escaped = false;
                ' '
            }
            Some(_) if c == '\\' => {
                escaped = true;
                ' '
            }
            Some(q) if c == q => {
                quote = None;
                c
            }
            Some(_) => ' ',
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                c
            }
        })
        .collect()
}

/// Evaluates an expression (`source` is its text, for messages); an undefined result
/// names the variable, or the field or index, that is missing.
fn eval(
    e: &Expression<'_, '_>,
    source: &str,
    site: &Site,
    ctx: &MjValue,
    sources: &SourceMap,
) -> Result<MjValue, RenderError> {
    let v = e.eval(ctx).map_err(|e| render_error(&e, site, sources))?;
    if !v.is_undefined() {
        return Ok(v);
    }
    let names: BTreeSet<String> = e.undeclared_variables(false).into_iter().collect();
    let defined = |n: &String| ctx.get_attr(n).is_ok_and(|v| !v.is_undefined());
    if let Some(name) = names.iter().find(|n| !defined(n)) {
        return Err(RenderError {
            span: site.locate_var(sources, name),
            message: format!("undefined variable `{name}`"),
            cause: RenderCause::Undefined(name.clone()),
        });
    }
    // Every variable exists: a field or index it reads does not.
    let expr = source.trim();
    let fields: Vec<String> = names
        .iter()
        .filter_map(|n| ctx.get_attr(n).ok())
        .filter(|v| v.kind() == minijinja::value::ValueKind::Map)
        .flat_map(|v| v.try_iter().into_iter().flatten().map(|k| k.to_string()).collect::<Vec<_>>())
        .collect();
    let mut message = format!("`{expr}` is undefined: it reads a field or index that does not exist");
    if !fields.is_empty() {
        message.push_str(&format!(" (available: {})", fields.join(", ")));
    }
    Err(RenderError { span: site.locate(sources, expr), message, cause: RenderCause::Other })
}

fn render_error(e: &MjError, site: &Site, sources: &SourceMap) -> RenderError {
    let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
    let piece = e.range().and_then(|r| e.template_source().and_then(|s| s.get(r)).map(str::to_string));
    // An expression's source is the part of the scalar inside `{{ }}`.
    let base = e.template_source().and_then(|t| site.source.find(t)).unwrap_or(0);
    let span = e.range().map_or(site.span, |r| site.locate_range(sources, base + r.start..base + r.end));
    if e.kind() == ErrorKind::UndefinedError {
        let name = piece.unwrap_or_default();
        return RenderError {
            span,
            message: format!("undefined value `{name}`"),
            cause: RenderCause::Undefined(name),
        };
    }
    if e.kind() == ErrorKind::OutOfFuel {
        return RenderError {
            span,
            message: format!(
                "this template does too much work: a value may take {TEMPLATE_FUEL} steps or build \
                 about {} MiB of data",
                (TEMPLATE_FUEL * BYTES_PER_FUEL) >> 20
            ),
            cause: RenderCause::TooLarge,
        };
    }
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(MissingEnv(name)) = err.downcast_ref::<MissingEnv>() {
            return RenderError { span, message: detail, cause: RenderCause::MissingEnv(name.clone()) };
        }
        source = err.source();
    }
    RenderError { span, message: detail, cause: RenderCause::Other }
}

/// What a template renders with: the variables, and the sources its errors point into.
pub struct RenderContext<'r> {
    vars: MjValue,
    sources: &'r SourceMap,
    masker: Option<Masker>,
}

impl<'r> RenderContext<'r> {
    /// A context over a snapshot of `scope`.
    pub fn new(scope: &Scope, sources: &'r SourceMap) -> Self {
        RenderContext { vars: Arc::new(scope.clone()).context(), sources, masker: None }
    }

    /// The same context; excerpts it makes of response text are masked before they are cut.
    pub fn masking(mut self, masker: &Masker) -> Self {
        self.masker = Some(masker.clone());
        self
    }

    /// The first `max` characters of `text` for a message (masked first, when masking).
    pub fn excerpt(&self, text: &str, max: usize) -> String {
        match &self.masker {
            Some(m) => m.excerpt(text, max),
            None => crate::assert::excerpt(text, max),
        }
    }

    /// Renders a value, keeping its JSON type. When masking, a value that read a secret
    /// (a secret variable, or `secret_env()`) but does not contain it as such (a filter
    /// changed its spelling: `upper`, `urlencode`, `replace`…) becomes a secret itself.
    pub fn render(&self, t: &Template<'_>) -> Result<serde_json::Value, RenderError> {
        match &self.masker {
            Some(m) => t.render_tainting(&self.vars, self.sources, m),
            None => t.render(&self.vars, self.sources),
        }
    }

    /// Renders a value that must be text (a URL, a header, a file name); numbers and
    /// booleans are written out.
    pub fn text(&self, t: &Template<'_>, what: &str) -> Result<String, RenderError> {
        match self.render(t)? {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(x) => Ok(x.to_string()),
            serde_json::Value::Bool(b) => Ok(b.to_string()),
            other => Err(RenderError {
                span: t.span(),
                message: format!("`{what}` must render to text, got {}", crate::model::JsonType::of(&other)),
                cause: RenderCause::WrongType,
            }),
        }
    }

    /// A variable's value, when it is set and not null.
    pub fn var(&self, name: &str) -> Option<MjValue> {
        self.vars.get_attr(name).ok().filter(|v| !v.is_undefined() && !v.is_none())
    }
}

/// Registers every string of `value` that does not already show a secret as a secret.
fn taint(value: &serde_json::Value, masker: &Masker) {
    match value {
        serde_json::Value::String(s) if !masker.contains_secret(s) => masker.add(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| taint(v, masker)),
        serde_json::Value::Object(map) => map.values().for_each(|v| taint(v, masker)),
        _ => {}
    }
}

/// Variables visible to templates; shared, cheap to clone.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    vars: indexmap::IndexMap<String, MjValue>,
}

impl Scope {
    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: MjValue) {
        self.vars.insert(name.to_string(), value);
    }

    /// Sets a variable from JSON.
    pub fn set_json(&mut self, name: &str, value: &serde_json::Value) {
        self.set(name, MjValue::from(minijinja::value::Serde(value)));
    }

    /// A variable's value, when set.
    pub fn get(&self, name: &str) -> Option<&MjValue> {
        self.vars.get(name)
    }

    /// Whether a variable is set.
    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Names in definition order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// A template context over this scope.
    pub fn context(self: &Arc<Self>) -> MjValue {
        MjValue::from_dyn_object(self.clone())
    }
}

/// A scope that grows while templates read it (variables resolved one after another),
/// without copying it for every render.
#[derive(Debug, Default)]
pub struct GrowingScope(std::sync::RwLock<Scope>);

impl GrowingScope {
    /// Starts from `scope`.
    pub fn new(scope: Scope) -> Arc<Self> {
        Arc::new(GrowingScope(std::sync::RwLock::new(scope)))
    }

    /// A template context that sees every later [`GrowingScope::set_json`].
    pub fn context(self: &Arc<Self>) -> MjValue {
        MjValue::from_dyn_object(self.clone())
    }

    /// Sets a variable from JSON.
    pub fn set_json(&self, name: &str, value: &serde_json::Value) {
        if let Ok(mut s) = self.0.write() {
            s.set_json(name, value);
        }
    }

    /// The scope as it is now.
    pub fn snapshot(&self) -> Scope {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Object for GrowingScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.0.read().ok()?.vars.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let names = self.0.read().map(|s| s.vars.keys().map(|k| MjValue::from(k.as_str())).collect());
        minijinja::value::Enumerator::Values(names.unwrap_or_default())
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.vars.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.vars.keys().map(|k| MjValue::from(k.as_str())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn render(text: &str, vars: &[(&str, serde_json::Value)]) -> Result<serde_json::Value, RenderError> {
        let mut map = SourceMap::default();
        let id = map.add("t.yaml", format!("v: {text}\n"));
        let file = map.get(id).expect("file");
        let root = crate::yaml::parse(file, id).expect("yaml");
        let Value::Map(entries) = &root.value else { panic!("map") };
        let engine = Engine::new(Arc::new(HashMap::new()), Masker::default());
        let compiled = engine.compile(&entries[0].1, &map).expect("compiles");
        let mut scope = Scope::default();
        for (k, v) in vars {
            scope.set_json(k, v);
        }
        compiled.render(&Arc::new(scope).context(), &map)
    }

    #[test]
    fn single_expressions_keep_their_type() {
        let n = serde_json::json!(3);
        assert_eq!(render("'{{ n }}'", &[("n", n.clone())]).expect("ok"), serde_json::json!(3));
        assert_eq!(render("'{{ n + 1 }}'", &[("n", n.clone())]).expect("ok"), serde_json::json!(4));
        assert_eq!(
            render("'{{ l }}'", &[("l", serde_json::json!([1, "a"]))]).expect("ok"),
            serde_json::json!([1, "a"])
        );
        assert_eq!(
            render("'{{ x }}'", &[("x", serde_json::Value::Null)]).expect("ok"),
            serde_json::Value::Null
        );
        assert_eq!(render("'n={{ n }}'", &[("n", n)]).expect("ok"), serde_json::json!("n=3"));
    }

    #[test]
    fn undefined_variables_point_at_the_use() {
        let e = render("'a {{ missing }}'", &[]).expect_err("undefined");
        assert_eq!(e.cause, RenderCause::Undefined("missing".into()));
        assert_eq!((e.span.start, e.span.end), (9, 16), "the span covers `missing`");
    }

    #[test]
    fn values_too_large_to_render_are_refused_before_they_are_copied() {
        // `[x] * n` is lazy: only turning it into JSON or text would take the memory.
        for text in [
            "'{{ [1] * 99999999 }}'",
            "'a{{ [1] * 99999999 }}'",
            "'{{ [[1] * 1000000] * 1000 }}'",
            "'{{ [big] * 300 }}'",
        ] {
            let big = serde_json::json!("x".repeat(1 << 20));
            let started = std::time::Instant::now();
            let e = render(text, &[("big", big)]).expect_err(text);
            assert_eq!(e.cause, RenderCause::TooLarge, "{text}: {}", e.message);
            assert!(e.message.contains("more than 256 MiB"), "{}", e.message);
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "{text} stopped early");
        }
        // What fits is passed on whole: a 1 MiB value, in an expression and in text.
        let big = serde_json::json!("x".repeat(1 << 20));
        assert_eq!(render("'{{ big }}'", &[("big", big.clone())]).expect("fits"), big);
        let text = render("'<{{ big }}>'", &[("big", big)]).expect("fits");
        assert_eq!(text.as_str().map(str::len), Some((1 << 20) + 2));
        assert_eq!(render("'{{ [1] * 3 }}'", &[]).expect("small"), serde_json::json!([1, 1, 1]));
    }

    #[test]
    fn data_a_template_builds_is_bounded_by_its_fuel() {
        for text in [
            "'{{ ([1] * 99999999) | list | length }}'",
            "'{{ (\"x\" * 99999999) | length }}'",
            "'{% for i in range(300) %}{{ big }}{% endfor %}'",
        ] {
            let e = render(text, &[("big", serde_json::json!("x".repeat(1 << 20)))]).expect_err(text);
            assert_eq!(e.cause, RenderCause::TooLarge, "{text}: {}", e.message);
            assert!(e.message.contains("too much work"), "{}", e.message);
        }
    }

    #[test]
    fn a_syntax_error_points_at_the_broken_expression_not_the_first() {
        let mut sources = SourceMap::default();
        let text = "url: \"http://h/{{ a }}/{{ a | }}/{{ a }}\"\n";
        let id = sources.add("t.yaml", text.to_string());
        let node = crate::yaml::parse(sources.get(id).expect("file"), id).expect("yaml");
        let crate::yaml::Value::Map(entries) = &node.value else { panic!("map") };
        let engine = Engine::new(Arc::default(), Masker::default());
        let ds = engine.compile(&entries[0].1, &sources).expect_err("syntax error");
        let at = ds[0].labels[0].span;
        assert_eq!(&text[at.start..at.end], "}}");
        assert_eq!(at.start, text.find("| }}").expect("broken") + 2, "the `}}` of the broken expression");
    }

    #[test]
    fn text_with_expressions_only_is_cut_into_pieces_and_anything_else_is_not() {
        let cut = |s: &str| {
            split_expressions(s)
                .map(|p| p.into_iter().map(|(e, r)| (e, s[r].to_string())).collect::<Vec<_>>())
        };
        assert_eq!(
            cut("{{ base }}/items/{{ id }}?q=1"),
            Some(vec![
                (true, " base ".into()),
                (false, "/items/".into()),
                (true, " id ".into()),
                (false, "?q=1".into())
            ])
        );
        assert_eq!(
            cut("a {{ '}}' ~ x }} b"),
            Some(vec![(false, "a ".into()), (true, " '}}' ~ x ".into()), (false, " b".into())])
        );
        for full in
            ["{% if x %}y{% endif %}", "{# c #}{{ x }}", "{{- x }}", "{{ x -}}", "{{ x", "x }}", "{{ }}"]
        {
            assert_eq!(cut(full), None, "{full}");
        }
    }

    #[test]
    fn pieces_render_like_the_template_engine() {
        let vars = [
            ("n", serde_json::json!(3)),
            ("f", serde_json::json!(2.5)),
            ("b", serde_json::json!(true)),
            ("z", serde_json::Value::Null),
            ("s", serde_json::json!("é \"q\" }}")),
            ("l", serde_json::json!([1, "a"])),
        ];
        for text in [
            "n={{ n }} f={{ f }} b={{ b }}",
            "z={{ z }}!",
            "{{ s }}/{{ s | upper }}",
            "l={{ l }}",
            "{{ n + 1 }}{{ n }}",
        ] {
            // The same text with a statement is rendered by the template engine.
            let by_engine = format!("{text}{{% if false %}}{{% endif %}}");
            assert_eq!(
                render(&format!("'{text}'"), &vars).expect("pieces"),
                render(&format!("'{by_engine}'"), &vars).expect("engine"),
                "{text}"
            );
        }
        let e =
            render("'{{ base }}/x/{{ nope }}'", &[("base", serde_json::json!("b"))]).expect_err("undefined");
        assert_eq!(e.cause, RenderCause::Undefined("nope".into()));
    }

    #[test]
    fn single_expression_detection() {
        assert_eq!(single_expression("{{ a }}"), Some(" a "));
        assert_eq!(single_expression("{{ a }} {{ b }}"), None);
        assert_eq!(single_expression("x{{ a }}"), None);
    }

    #[test]
    fn b64encode_of_a_secret_is_secret_too() {
        let masker = Masker::default();
        masker.add("hunter2");
        let engine = Engine::new(Arc::new(HashMap::new()), masker.clone());
        let mut map = SourceMap::default();
        let id = map.add("t.yaml", "v: \"{{ 'hunter2' | b64encode }}\"\n".to_string());
        let file = map.get(id).expect("file");
        let root = crate::yaml::parse(file, id).expect("yaml");
        let Value::Map(entries) = &root.value else { panic!("map") };
        let out = engine
            .compile(&entries[0].1, &map)
            .expect("ok")
            .render(&Arc::new(Scope::default()).context(), &map);
        let encoded = out.expect("renders");
        assert_eq!(masker.mask(encoded.as_str().expect("string")), crate::secret::MASK);
    }
}
