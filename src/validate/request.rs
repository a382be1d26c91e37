//! Checks of what a step will send that need no response: an absolute http(s) URL, and a
//! `Content-Type` header that agrees with the body kind.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Body;
use crate::plan::CompiledStep;
use crate::source::SourceMap;
use crate::template::Scope;
use minijinja::Value as MjValue;

/// The URL's problem, when what is known of it before sending is already wrong: the
/// whole URL when every variable it reads is known, else the literal text before its
/// first `{{`.
pub fn url_problem(
    step: &CompiledStep<'_>,
    scope: &Scope,
    ctx: &MjValue,
    sources: &SourceMap,
) -> Option<Diagnostic> {
    let t = &step.url;
    let mut vars = Vec::new();
    t.variables(sources, &mut vars);
    let (text, complete) = if vars.iter().all(|(v, _)| scope.contains(v)) {
        match t.render(ctx, sources).ok()? {
            serde_json::Value::String(s) => (s, true),
            _ => return None,
        }
    } else {
        (t.text_prefix()?.to_string(), false)
    };
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        if !complete {
            return None;
        }
        let reason = url::Url::parse(text.trim()).err()?;
        return Some(
            Diagnostic::error(Code::BadUrl, format!("`{text}` is not a valid URL: {reason}"))
                .at(t.span(), "not a URL")
                .help("check the host and port: `http://host:port/path`"),
        );
    }
    if !complete && (lower.is_empty() || "http://".starts_with(&lower) || "https://".starts_with(&lower)) {
        return None;
    }
    let shown = if complete { text.clone() } else { format!("{text}…") };
    let (label, help) = if let Some((scheme, _)) = lower.split_once("://") {
        (
            format!("`{scheme}:` is not http or https"),
            "baton sends HTTP requests: use `http://` or `https://`".into(),
        )
    } else if lower.starts_with('/') {
        (
            "a path, not a URL".to_string(),
            "write the whole URL: put the origin in a variable (`base_url: http://…` under `vars:`) and write \
             `{{ base_url }}/path`"
                .to_string(),
        )
    } else {
        (
            "no `http://` or `https://`".to_string(),
            format!("write `http://{}` (or `https://…`)", shown.trim()),
        )
    };
    Some(
        Diagnostic::error(Code::BadUrl, format!("`{shown}` is not an absolute http(s) URL"))
            .at(t.span(), label)
            .help(help),
    )
}

/// A warning for each literal `Content-Type` header (the step's own or from `defaults:`)
/// that contradicts the body kind, saying which one is sent.
pub fn content_type_warnings(step: &CompiledStep<'_>, out: &mut Vec<Diagnostic>) {
    let Some(body) = &step.body else { return };
    for (key, value) in &step.headers {
        if !key.name.eq_ignore_ascii_case("content-type") {
            continue;
        }
        let Some(ct) = value.literal_str() else { continue };
        let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let (kind, fits, wins) = match body {
            Body::Json(_) => ("json:", media == "application/json" || media.ends_with("+json"), true),
            Body::Form(_) => ("form:", media == "application/x-www-form-urlencoded", true),
            Body::Multipart(_) => ("multipart:", false, false),
            Body::Raw { content_type, .. }
            | Body::Literal { content_type, .. }
            | Body::File { content_type, .. } => {
                let Some(given) = content_type.as_ref().and_then(|c| c.literal_str()) else { continue };
                ("body: with content_type:", given.eq_ignore_ascii_case(ct), true)
            }
        };
        if fits {
            continue;
        }
        let sent = match body {
            Body::Json(_) => "JSON text",
            Body::Form(_) => "urlencoded fields",
            _ => "the body",
        };
        let d = if wins {
            Diagnostic::warning(
                Code::ConflictingContentType,
                format!("`Content-Type: {ct}` contradicts the `{kind}` body of step `{}`", step.name),
            )
            .at(key.span, "this header wins")
            .note(format!("baton sends {sent} labelled `{ct}`, as written"))
            .help(match body {
                Body::Json(_) => {
                    "remove the header to send `application/json`, or send the text with `body:`"
                }
                Body::Form(_) => "remove the header to send `application/x-www-form-urlencoded`",
                _ => "keep one of the two",
            })
        } else {
            Diagnostic::warning(
                Code::ConflictingContentType,
                format!("`Content-Type: {ct}` is ignored on the `multipart:` body of step `{}`", step.name),
            )
            .at(key.span, "not sent")
            .note("a multipart body is sent as `multipart/form-data; boundary=…`: the boundary is its own")
            .help("remove the header")
        };
        out.push(d);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::Fixture;

    fn url_problem(url: &str) -> Option<String> {
        let f = Fixture::new(&format!("vars: {{host: 127.0.0.1}}\nrequests:\n  - url: '{url}'\n"));
        let ds = f.plan().err()?;
        // A variable captured by no step is also undefined: only the URL's problem counts here.
        let d = ds.iter().find(|d| d.code == "bad-url")?;
        Some(format!("{} | {} | {}", d.message, d.labels[0].text, d.help.clone().unwrap_or_default()))
    }

    #[test]
    fn urls_without_an_http_scheme_are_caught_before_sending() {
        let p = url_problem("127.0.0.1:8080/x").expect("no scheme");
        assert!(p.contains("write `http://127.0.0.1:8080/x`"), "{p}");
        let p = url_problem("{{ host }}:8080/x").expect("no scheme once rendered");
        assert!(p.contains("`127.0.0.1:8080/x` is not"), "{p}");
        assert!(url_problem("/users").expect("a path").contains("base_url"));
        assert!(url_problem("ftp://h/x").expect("ftp").contains("`ftp:` is not http"));
        assert!(url_problem("localhost:{{ later }}/x").expect("prefix").contains("`localhost:…`"));
        assert!(url_problem("http://h:99999/x").expect("port").contains("not a valid URL"));
        for fine in ["http://h/x", "HTTPS://h/x", "http://{{ host }}/x", "{{ later }}/x", "ht{{ later }}"] {
            assert_eq!(url_problem(fine), None, "{fine}");
        }
    }

    #[test]
    fn a_content_type_contradicting_the_body_is_a_warning_naming_the_winner() {
        let f = Fixture::new(
            "defaults:\n  headers: {Content-Type: application/json}\nrequests:\n  - name: login\n    url: http://h/\n    form: {a: '1'}\n  - name: j\n    url: http://h/\n    json: {a: 1}\n  - name: up\n    url: http://h/\n    headers: {content-type: multipart/form-data}\n    multipart: {a: '1'}\n",
        );
        let plan = f.valid();
        let w: Vec<String> = plan.warnings.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("`Content-Type: application/json` contradicts the `form:` body of step `login`"),
            "{w:?}"
        );
        assert!(plan.warnings[0].labels[0].text.contains("wins"));
        assert!(w[1].contains("is ignored on the `multipart:` body of step `up`"), "{w:?}");
        assert!(plan.warnings.iter().all(|d| d.warning));
    }
}
