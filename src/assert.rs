//! Expectations: compare a response with what the step asked for.
//!
//! Each failure keeps the span of the YAML that asked, the expected and the actual
//! value, so the report can show all three through the one diagnostic renderer.

use serde_json::Value as Json;

use crate::capture::describe_body;
use crate::exchange::Exchange;
use crate::model::{Check, CompareOp, Expect, JsonType, Matcher, Role, StatusPattern};
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
        let actual = ex.header(&name.name).map(|v| Json::String(v.to_string()));
        matcher(m, actual.as_ref(), &format!("header `{}`", name.name), true, ctx, &mut out);
    }
    if !e.json.is_empty() {
        match ex.json() {
            Some(doc) => {
                for (path, m) in &e.json {
                    let nodes = path.compiled.query(doc).all();
                    let actual = match nodes.len() {
                        0 => None,
                        1 => Some(nodes[0].clone()),
                        _ => Some(Json::Array(nodes.into_iter().cloned().collect())),
                    };
                    matcher(m, actual.as_ref(), &path.source, false, ctx, &mut out);
                }
            }
            None => {
                let (path, _) = &e.json[0];
                out.push(Failure {
                    span: path.span,
                    subject: "body".into(),
                    expected: "a JSON body".into(),
                    actual: describe_body(ex),
                });
            }
        }
    }
    if !e.body_contains.is_empty() {
        let text = ex.text();
        for n in &e.body_contains {
            match ctx.render(n) {
                Ok(v) => {
                    let needle = as_text(&v);
                    if !text.contains(&needle) {
                        out.push(Failure {
                            span: n.span(),
                            subject: "body".into(),
                            expected: format!("to contain {needle:?}"),
                            actual: excerpt(&text, 200),
                        });
                    }
                }
                Err(err) => out.push(render_failure(n, err)),
            }
        }
    }
    if let Some(n) = &e.content_type {
        match ctx.render(n) {
            Ok(v) => {
                let want = as_text(&v).to_ascii_lowercase();
                let got = ex.header("content-type").unwrap_or("").to_ascii_lowercase();
                let got_media = got.split(';').next().unwrap_or("").trim();
                let ok = if want.contains(';') {
                    got.replace(' ', "") == want.replace(' ', "")
                } else {
                    got_media == want
                };
                if !ok {
                    out.push(Failure {
                        span: n.span(),
                        subject: "content type".into(),
                        expected: want,
                        actual: if got.is_empty() { "no content-type header".into() } else { got },
                    });
                }
            }
            Err(err) => out.push(render_failure(n, err)),
        }
    }
    // Report in the order the YAML asks.
    out.sort_by_key(|f| f.span.start);
    out
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

fn show(v: Option<&Json>) -> String {
    v.map_or_else(|| "nothing (no match)".to_string(), |v| excerpt(&v.to_string(), 300))
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
    for c in &m.checks {
        let fail = |expected: String, span: Span| Failure {
            span,
            subject: subject.to_string(),
            expected,
            actual: show(actual),
        };
        let rendered = |n: &Template<'_>| ctx.render(n).map_err(|e| render_failure(n, e));
        let result: Result<(), Failure> = (|| match c {
            Check::Equals(n) => {
                let want = rendered(n)?;
                match actual {
                    Some(a) if equal(a, &want, text_mode) => Ok(()),
                    _ => Err(fail(excerpt(&want.to_string(), 300), n.span())),
                }
            }
            Check::Exists(want) => {
                if actual.is_some() == *want {
                    Ok(())
                } else {
                    Err(fail(if *want { "to exist".into() } else { "not to exist".into() }, m.span))
                }
            }
            Check::Matches(re) => match actual.map(as_text) {
                Some(t) if re.compiled.is_match(&t) => Ok(()),
                _ => Err(fail(format!("to match /{}/", re.source), re.span)),
            },
            Check::Len(n) => {
                let want = rendered(n)?;
                let len = actual.and_then(|a| match a {
                    Json::String(s) => Some(s.chars().count()),
                    Json::Array(a) => Some(a.len()),
                    Json::Object(o) => Some(o.len()),
                    _ => None,
                });
                match (len, num(&want)) {
                    (Some(l), Some(w)) if l as f64 == w => Ok(()),
                    (l, _) => {
                        let mut f = fail(format!("length {}", as_text(&want)), n.span());
                        f.actual = l.map_or_else(
                            || format!("{} (no length)", show(actual)),
                            |l| format!("length {l}: {}", show(actual)),
                        );
                        Err(f)
                    }
                }
            }
            Check::Compare(op, n) => {
                let want = rendered(n)?;
                let ok = match (actual.and_then(num), num(&want)) {
                    (Some(a), Some(w)) => match op {
                        CompareOp::Gt => a > w,
                        CompareOp::Gte => a >= w,
                        CompareOp::Lt => a < w,
                        CompareOp::Lte => a <= w,
                    },
                    _ => false,
                };
                if ok { Ok(()) } else { Err(fail(format!("{} {}", op.keyword(), as_text(&want)), n.span())) }
            }
            Check::Contains(n) => {
                let want = rendered(n)?;
                let ok = match actual {
                    Some(Json::String(s)) => s.contains(&as_text(&want)),
                    Some(Json::Array(items)) => items.iter().any(|i| equal(i, &want, false)),
                    Some(Json::Object(o)) => want.as_str().is_some_and(|k| o.contains_key(k)),
                    _ => false,
                };
                if ok {
                    Ok(())
                } else {
                    Err(fail(format!("to contain {}", excerpt(&want.to_string(), 200)), n.span()))
                }
            }
            Check::Type(t, span) => match actual {
                Some(a) if t.matches(a) => Ok(()),
                Some(a) => {
                    let mut f = fail(format!("type {}", type_name(*t)), *span);
                    f.actual = format!("{} {}", JsonType::of(a), show(actual));
                    Err(f)
                }
                None => Err(fail(format!("type {}", type_name(*t)), *span)),
            },
        })();
        if let Err(f) = result {
            out.push(f);
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
