//! Expectations: compare a response with what the step asked for.
//!
//! Each failure keeps the span of the YAML that asked, the expected and the actual
//! value, so the report can show all three through the one diagnostic renderer.

use serde_json::Value as Json;

use crate::capture::describe_body;
use crate::exchange::Exchange;
use crate::model::{
    BodyExpect, Check, CompareOp, Expect, JsonType, Loaded, LocalFile, Matcher, Role, StatusPattern,
};
use crate::plan::CompiledStep;
use crate::source::Span;
use crate::template::{RenderContext, RenderError, Template};

/// One expectation that did not hold.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The YAML that asked.
    pub span: Span,
    /// What was checked, e.g. `status` or `$.user.name`.
    pub subject: String,
    /// Expected, as text.
    pub expected: String,
    /// Actual, as text.
    pub actual: String,
}

/// Compiled expectations.
pub type CompiledExpect<'a> = Expect<Template<'a>>;

/// Checks every expectation of `step` against `ex`; empty means all held.
pub fn check(step: &CompiledStep<'_>, ex: &Exchange, ctx: &RenderContext<'_>) -> Vec<Failure> {
    check_expect(&step.expect, Some(step), ex, ctx)
}

/// Checks an expectation block; with `step`, a missing `status:` means the step's default
/// (2xx for auth steps, below 400 for requests), without it (polling conditions) no check.
pub fn check_expect(
    e: &CompiledExpect<'_>,
    step: Option<&CompiledStep<'_>>,
    ex: &Exchange,
    ctx: &RenderContext<'_>,
) -> Vec<Failure> {
    let mut out = Vec::new();
    match &e.status {
        Some(s) if !s.allowed.iter().any(|p| p.allows(ex.status)) => out.push(Failure {
            span: s.span,
            subject: "status".into(),
            expected: s.allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
            actual: ex.status.to_string(),
        }),
        Some(_) => {}
        None => {
            let Some(step) = step else { return check_rest(e, ex, ctx, out) };
            let (ok, expected) = match step.role {
                Role::Auth => (StatusPattern::Class(2).allows(ex.status), "2xx (auth steps must succeed)"),
                Role::Request => (ex.status < 400, "1xx–3xx (add `expect: {status: …}` to expect an error)"),
            };
            if !ok {
                out.push(Failure {
                    span: step.name_span,
                    subject: "status".into(),
                    expected: expected.into(),
                    actual: ex.status.to_string(),
                });
            }
        }
    }
    check_rest(e, ex, ctx, out)
}

/// Everything but the status.
fn check_rest(
    e: &CompiledExpect<'_>,
    ex: &Exchange,
    ctx: &RenderContext<'_>,
    mut out: Vec<Failure>,
) -> Vec<Failure> {
    for (name, m) in &e.headers {
        // A header sent several times (`set-cookie`) is the list of its values, so
        // `contains` finds one of them and `each` checks them all.
        let mut values: Vec<Json> = ex
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name.name))
            .map(|(_, v)| Json::String(v.clone()))
            .collect();
        let actual = match values.len() {
            0 => None,
            1 => values.pop(),
            _ => Some(Json::Array(values)),
        };
        matcher(m, actual.as_ref(), &format!("header `{}`", name.name), true, ctx, &mut out);
    }
    if let Some(schema) = &e.json_schema {
        out.extend(check_schema(schema, ex, ctx));
    }
    match &e.body {
        Some(BodyExpect::Matcher(m)) => {
            let actual = ex.json().cloned().unwrap_or_else(|| Json::String(ex.text().into_owned()));
            matcher(m, Some(&actual), "body", false, ctx, &mut out);
        }
        Some(BodyExpect::File(file)) => out.extend(check_body_file(file, ex, ctx)),
        None => {}
    }
    check_json(e, ex, ctx, &mut out);
    for (name, m) in &e.cookies {
        let actual = crate::capture::cookie(ex, &name.name).map(|v| Json::String(v.to_string()));
        let subject = format!("cookie `{}`", name.name);
        let before = out.len();
        matcher(m, actual.as_ref(), &subject, true, ctx, &mut out);
        if actual.is_none() {
            // Say what the server did set, not only that this one is missing.
            for f in &mut out[before..] {
                f.actual = format!("nothing ({})", crate::capture::cookies_set(ex));
            }
        }
    }
    for (op, bound, span) in &e.duration {
        let took = ex.elapsed;
        let ok = match op {
            CompareOp::Gt => took > *bound,
            CompareOp::Gte => took >= *bound,
            CompareOp::Lt => took < *bound,
            CompareOp::Lte => took <= *bound,
        };
        if !ok {
            out.push(Failure {
                span: *span,
                subject: "duration".into(),
                expected: format!("{} {}", op.keyword(), crate::event::human_duration(*bound)),
                actual: crate::event::human_duration(took),
            });
        }
    }
    if !e.body_contains.is_empty() {
        let text = ex.text();
        for n in &e.body_contains {
            let checked = ctx.render(n).map_err(|err| render_failure(n, err)).and_then(|v| {
                let needle = as_text(&v);
                if text.contains(&needle) {
                    return Ok(());
                }
                Err(Failure {
                    span: n.span(),
                    subject: "body".into(),
                    expected: format!("to contain {needle:?}"),
                    actual: ctx.excerpt(&text, 200),
                })
            });
            out.extend(checked.err());
        }
    }
    if let Some(n) = &e.content_type {
        let checked =
            ctx.render(n).map_err(|err| render_failure(n, err)).and_then(|v| content_type(n, &v, ex));
        out.extend(checked.err());
    }
    // Report in the order the YAML asks.
    out.sort_by_key(|f| f.span.start);
    out
}

/// `json_schema:`: the JSON body validates; the failure lists the first few violations.
fn check_schema(schema: &LocalFile, ex: &Exchange, ctx: &RenderContext<'_>) -> Option<Failure> {
    let Some(Loaded::Schema(validator)) = schema.loaded.as_deref() else { return None };
    let fail = |actual: String| Failure {
        span: schema.span,
        subject: "json_schema".into(),
        expected: format!("to match the schema in {}", crate::printable::line(&schema.path)),
        actual,
    };
    let Some(doc) = ex.json() else { return Some(fail(describe_body(ex))) };
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .take(4)
        .map(|e| {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "the document".to_string() } else { format!("at {at}") };
            format!("{at}: {}", ctx.excerpt(&e.to_string(), 200))
        })
        .collect();
    if errors.is_empty() {
        return None;
    }
    let more = if errors.len() > 3 { "\n(and more)" } else { "" };
    Some(fail(format!("{}{more}", errors.iter().take(3).cloned().collect::<Vec<_>>().join("\n"))))
}

/// `body: {file: …}`: the body equals the file, as JSON (by value) when both are JSON,
/// else byte for byte.
fn check_body_file(file: &LocalFile, ex: &Exchange, ctx: &RenderContext<'_>) -> Option<Failure> {
    let Some(Loaded::Body(bytes, json)) = file.loaded.as_deref() else { return None };
    let same = match (json, ex.json()) {
        (Some(want), Some(got)) => want == got,
        _ => bytes.as_slice() == ex.body.as_slice(),
    };
    if same {
        return None;
    }
    Some(Failure {
        span: file.span,
        subject: "body".into(),
        expected: format!("to equal {} ({} bytes)", crate::printable::line(&file.path), bytes.len()),
        actual: ctx.excerpt(&ex.text(), 300),
    })
}

/// `json:` expectations: each JSONPath's matches (one value, or a list of several).
fn check_json(e: &CompiledExpect<'_>, ex: &Exchange, ctx: &RenderContext<'_>, out: &mut Vec<Failure>) {
    let Some((first, _)) = e.json.first() else { return };
    let Some(doc) = ex.json_at() else {
        out.push(Failure {
            span: first.span,
            subject: "body".into(),
            expected: "a JSON body".into(),
            actual: describe_body(ex),
        });
        return;
    };
    for (path, m) in &e.json {
        let nodes = path.compiled.query(doc).all();
        let actual = match nodes.len() {
            0 => None,
            1 => Some(nodes[0].clone()),
            _ => Some(Json::Array(nodes.into_iter().cloned().collect())),
        };
        matcher(m, actual.as_ref(), &path.source, false, ctx, out);
    }
}

/// The media type must match; parameters (charset…) count only when the expectation has them.
fn content_type(n: &Template<'_>, want: &Json, ex: &Exchange) -> Result<(), Failure> {
    let want = as_text(want).to_ascii_lowercase();
    let got = ex.header("content-type").unwrap_or("").to_ascii_lowercase();
    let got_media = got.split(';').next().unwrap_or("").trim();
    let ok =
        if want.contains(';') { got.replace(' ', "") == want.replace(' ', "") } else { got_media == want };
    if ok {
        return Ok(());
    }
    Err(Failure {
        span: n.span(),
        subject: "content type".into(),
        expected: want,
        actual: if got.is_empty() { "no content-type header".into() } else { got },
    })
}

fn render_failure(n: &Template<'_>, err: RenderError) -> Failure {
    Failure {
        span: n.span(),
        subject: "expected value".into(),
        expected: "a value that renders".into(),
        actual: err.message,
    }
}

/// A JSON value as text: strings bare, everything else as JSON.
pub fn as_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first `max` characters of `text`, with an ellipsis when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn num(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality where numbers compare by value and header text compares with rendered scalars.
fn equal(actual: &Json, expected: &Json, text_mode: bool) -> bool {
    if text_mode {
        return as_text(actual) == as_text(expected);
    }
    match (actual, expected) {
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        _ => actual == expected,
    }
}

fn matcher(
    m: &Matcher<Template<'_>>,
    actual: Option<&Json>,
    subject: &str,
    text_mode: bool,
    ctx: &RenderContext<'_>,
    out: &mut Vec<Failure>,
) {
    let actual_value = actual;
    let actual = Actual { value: actual, subject, text_mode, ctx };
    for c in &m.checks {
        let rendered = |n: &Template<'_>| ctx.render(n).map_err(|e| render_failure(n, e));
        let result = match c {
            Check::Equals(n) => rendered(n).and_then(|want| actual.equals(&want, n.span())),
            Check::Exists(want) => actual.exists(*want, m.span),
            Check::Matches(re) => match actual.value.map(as_text) {
                Some(t) if re.compiled.is_match(&t) => Ok(()),
                _ => Err(actual.fail(format!("to match /{}/", re.source), re.span)),
            },
            Check::Len(n) => rendered(n).and_then(|want| actual.length(&want, n.span())),
            Check::Compare(op, n) => rendered(n).and_then(|want| actual.compare(*op, &want, n.span())),
            Check::Contains(n) => rendered(n).and_then(|want| actual.contains(&want, n.span())),
            Check::Type(t, span) => actual.has_type(*t, *span),
            Check::LenMatches(inner) => match actual.len() {
                Some(len) => {
                    let len = Json::from(len);
                    matcher(inner, Some(&len), &format!("length of {subject}"), false, ctx, out);
                    Ok(())
                }
                None => Err(actual.fail("a string, list or object (to have a length)".into(), inner.span)),
            },
            Check::Each(inner) => match actual_value {
                // A header sent once is a list of one value.
                Some(one @ Json::String(_)) if text_mode => {
                    matcher(inner, Some(one), subject, text_mode, ctx, out);
                    Ok(())
                }
                Some(Json::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let before = out.len();
                        matcher(inner, Some(item), &format!("{subject}[{i}]"), text_mode, ctx, out);
                        // The first element that fails is enough to show.
                        if out.len() > before {
                            break;
                        }
                    }
                    Ok(())
                }
                _ => Err(actual.fail("a list (for `each:`)".into(), inner.span)),
            },
        };
        out.extend(result.err());
    }
}

/// The value a matcher checks (absent when nothing matched), and what it is called.
struct Actual<'v> {
    value: Option<&'v Json>,
    subject: &'v str,
    /// Headers are text: `3` equals `"3"`.
    text_mode: bool,
    ctx: &'v RenderContext<'v>,
}

impl Actual<'_> {
    /// The actual value for a message: a masked excerpt.
    fn show(&self) -> String {
        self.value.map_or_else(|| "nothing (no match)".to_string(), |v| self.ctx.excerpt(&v.to_string(), 300))
    }

    fn fail(&self, expected: String, span: Span) -> Failure {
        Failure { span, subject: self.subject.to_string(), expected, actual: self.show() }
    }

    fn equals(&self, want: &Json, span: Span) -> Result<(), Failure> {
        match self.value {
            Some(a) if equal(a, want, self.text_mode) => Ok(()),
            _ => Err(self.fail(excerpt(&want.to_string(), 300), span)),
        }
    }

    fn exists(&self, want: bool, span: Span) -> Result<(), Failure> {
        if self.value.is_some() == want {
            return Ok(());
        }
        Err(self.fail(if want { "to exist".into() } else { "not to exist".into() }, span))
    }

    /// The length of a string (characters), list or object.
    fn len(&self) -> Option<usize> {
        self.value.and_then(|a| match a {
            Json::String(s) => Some(s.chars().count()),
            Json::Array(a) => Some(a.len()),
            Json::Object(o) => Some(o.len()),
            _ => None,
        })
    }

    fn length(&self, want: &Json, span: Span) -> Result<(), Failure> {
        let len = self.len();
        match (len, num(want)) {
            (Some(l), Some(w)) if l as f64 == w => Ok(()),
            (l, _) => {
                let mut f = self.fail(format!("length {}", as_text(want)), span);
                f.actual = l.map_or_else(
                    || format!("{} (no length)", self.show()),
                    |l| format!("length {l}: {}", self.show()),
                );
                Err(f)
            }
        }
    }

    fn compare(&self, op: CompareOp, want: &Json, span: Span) -> Result<(), Failure> {
        let ok = match (self.value.and_then(num), num(want)) {
            (Some(a), Some(w)) => match op {
                CompareOp::Gt => a > w,
                CompareOp::Gte => a >= w,
                CompareOp::Lt => a < w,
                CompareOp::Lte => a <= w,
            },
            _ => false,
        };
        if ok { Ok(()) } else { Err(self.fail(format!("{} {}", op.keyword(), as_text(want)), span)) }
    }

    fn contains(&self, want: &Json, span: Span) -> Result<(), Failure> {
        let ok = match self.value {
            Some(Json::String(s)) => s.contains(&as_text(want)),
            Some(Json::Array(items)) => items.iter().any(|i| equal(i, want, false)),
            Some(Json::Object(o)) => want.as_str().is_some_and(|k| o.contains_key(k)),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(self.fail(format!("to contain {}", excerpt(&want.to_string(), 200)), span))
        }
    }

    fn has_type(&self, t: JsonType, span: Span) -> Result<(), Failure> {
        match self.value {
            Some(a) if t.matches(a) => Ok(()),
            Some(a) => {
                let mut f = self.fail(format!("type {}", type_name(t)), span);
                f.actual = format!("{} {}", JsonType::of(a), self.show());
                Err(f)
            }
            None => Err(self.fail(format!("type {}", type_name(t)), span)),
        }
    }
}

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::String => "string",
        JsonType::Number => "number",
        JsonType::Integer => "integer",
        JsonType::Boolean => "boolean",
        JsonType::Array => "array",
        JsonType::Object => "object",
        JsonType::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{Fixture, json_response};

    /// The failures of step `name` of `yaml` against `ex` (its subjects, in order).
    fn failures(yaml: &str, ex: &Exchange) -> Vec<Failure> {
        let f = Fixture::new(yaml);
        let plan = f.valid();
        let ctx = f.context(&plan, &[]);
        check(plan.step(0), ex, &ctx)
    }

    fn subjects(fs: &[Failure]) -> Vec<&str> {
        fs.iter().map(|f| f.subject.as_str()).collect()
    }

    #[test]
    fn without_a_status_expectation_requests_pass_below_400_and_auth_steps_need_2xx() {
        let request = "requests:\n  - url: http://h/a\n";
        assert!(failures(request, &json_response(302, json!({}))).is_empty());
        let f = failures(request, &json_response(404, json!({})));
        assert_eq!((f[0].subject.as_str(), f[0].actual.as_str()), ("status", "404"));
        let auth = "auth:\n  - url: http://h/login\nrequests: []\n";
        assert_eq!(subjects(&failures(auth, &json_response(302, json!({})))), ["status"]);
    }

    #[test]
    fn status_lists_and_classes_allow_any_member() {
        let yaml = "requests:\n  - url: http://h/a\n    expect: {status: [201, 4xx]}\n";
        assert!(failures(yaml, &json_response(201, json!({}))).is_empty());
        assert!(failures(yaml, &json_response(409, json!({}))).is_empty());
        let f = failures(yaml, &json_response(200, json!({})));
        assert_eq!(f[0].expected, "201 or 4xx");
    }

    #[test]
    fn json_numbers_compare_by_value_and_templates_render_the_expected_side() {
        let yaml = "vars: {n: 2}\nrequests:\n  - url: http://h/a\n    expect:\n      json:\n        $.a: 1\n        $.b: '{{ n }}'\n";
        assert!(failures(yaml, &json_response(200, json!({"a": 1.0, "b": 2}))).is_empty());
        let f = failures(yaml, &json_response(200, json!({"a": 1, "b": 3})));
        assert_eq!((f[0].subject.as_str(), f[0].expected.as_str(), f[0].actual.as_str()), ("$.b", "2", "3"));
    }

    #[test]
    fn matchers_check_length_range_type_pattern_and_membership() {
        let yaml = "requests:\n  - url: http://h/a\n    expect:\n      json:\n        $.items: {len: 2, contains: 'x'}\n        $.n: {gt: 1, lte: 5, type: integer}\n        $.id: {matches: '^u-[0-9]+$'}\n        $.gone: {exists: false}\n";
        let good = json!({"items": ["x", "y"], "n": 5, "id": "u-42"});
        assert!(failures(yaml, &json_response(200, good)).is_empty());
        let bad = json!({"items": ["y"], "n": 5.5, "id": "user-1", "gone": null});
        let f = failures(yaml, &json_response(200, bad));
        assert_eq!(subjects(&f), ["$.items", "$.items", "$.n", "$.n", "$.id", "$.gone"]);
        assert!(f[0].actual.starts_with("length 1"), "{}", f[0].actual);
    }

    #[test]
    fn headers_compare_as_text_and_content_type_ignores_parameters_unless_given() {
        let yaml = "requests:\n  - url: http://h/a\n    expect:\n      headers: {X-Count: 3}\n      content_type: application/json\n";
        let ex = Exchange::new(
            200,
            vec![
                ("content-type".into(), "application/json; charset=utf-8".into()),
                ("x-count".into(), "3".into()),
            ],
            b"{}".to_vec(),
        );
        assert!(failures(yaml, &ex).is_empty());
        let strict =
            "requests:\n  - url: http://h/a\n    expect: {content_type: 'text/plain; charset=ascii'}\n";
        let f = failures(strict, &ex);
        assert_eq!(
            (f[0].subject.as_str(), f[0].actual.as_str()),
            ("content type", "application/json; charset=utf-8")
        );
    }

    #[test]
    fn a_json_expectation_on_a_text_body_says_what_the_body_is() {
        let yaml = "requests:\n  - url: http://h/a\n    expect:\n      json: {$.a: 1}\n      body_contains: [hello, bye]\n";
        let ex =
            Exchange::new(200, vec![("content-type".into(), "text/plain".into())], b"hello world".to_vec());
        let f = failures(yaml, &ex);
        assert_eq!(subjects(&f), ["body", "body"]);
        assert_eq!(f[0].actual, "text/plain (11 bytes)");
        assert_eq!(f[1].expected, "to contain \"bye\"");
    }

    #[test]
    fn failures_come_in_the_order_the_yaml_asks() {
        let yaml =
            "requests:\n  - url: http://h/a\n    expect:\n      json: {$.z: 1, $.a: 2}\n      status: 201\n";
        let f = failures(yaml, &json_response(200, json!({"z": 0, "a": 0})));
        assert_eq!(subjects(&f), ["$.z", "$.a", "status"]);
        assert!(f.windows(2).all(|w| w[0].span.start <= w[1].span.start));
    }

    #[test]
    fn excerpts_cut_on_characters_and_say_so() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hi", 2), "hi");
        assert_eq!(as_text(&json!("s")), "s");
        assert_eq!(as_text(&json!({"a": 1})), r#"{"a":1}"#);
    }
}
