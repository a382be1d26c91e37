//! The step loop: render, send, capture, check, emit.
//!
//! Auth steps run first, then requests, in file order. A failed auth step stops the
//! collection; a request whose captured inputs never arrived is skipped with the
//! reason; other requests still run unless `--fail-fast`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::assert::{self, Failure, as_text, excerpt};
use crate::capture::capture;
use crate::event::{CollectionOutcome, Event, Sink, StepError, StepOutcome, StepResult};
use crate::exchange::{ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::http::{HttpClient, HttpError};
use crate::model::{AuthSpec, Body, PartKind, Role, Step, oauth2_vars};
use crate::plan::Plan;
use crate::secret::{Masker, basic_credential, register_secret_fields};
use crate::source::SourceMap;
use crate::template::{RenderError, Scope};
use crate::yaml::{Key, Node};

/// Executor settings.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Stop at the first failed step.
    pub fail_fast: bool,
}

/// Headers whose values are credentials; they are always masked.
const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"];

/// Runs a validated collection.
pub async fn execute(
    plan: &Plan<'_>,
    client: &HttpClient,
    sources: &SourceMap,
    opts: &ExecOptions,
    sink: &mut dyn Sink,
) -> CollectionOutcome {
    let started = Instant::now();
    let c = plan.collection;
    let path = sources.get(c.file).map(|f| f.path.clone()).unwrap_or_default();
    let label_width =
        |s: &Step| s.name.chars().count() + if s.role == Role::Auth { " (auth)".len() } else { 0 };
    let name_width = c.steps().map(label_width).max().unwrap_or(0);
    sink.event(&Event::CollectionStarted { name: &c.name, path: &path, name_width });
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut scope: Scope = (*plan.scope).clone();
    let mut outcomes: Vec<StepOutcome> = Vec::with_capacity(plan.steps.len());
    let mut stop: Option<String> = None;
    for ps in &plan.steps {
        let step = plan.step(ps.index);
        let mut outcome = StepOutcome {
            name: step.name.clone(),
            role: step.role,
            method: step.method.clone(),
            url: None,
            status: None,
            elapsed: Duration::ZERO,
            result: StepResult::Passed,
            span: step.name_span,
            body_excerpt: None,
        };
        let missing = ps.needs.iter().find(|(name, _)| !scope.contains(name));
        if let Some(reason) = &stop {
            outcome.result = StepResult::Skipped(reason.clone());
        } else if let Some((name, j)) = missing {
            let by = &outcomes[*j];
            let why = match &by.result {
                StepResult::Skipped(_) => "it was skipped",
                StepResult::Error(_) => "it ended in an error",
                _ => "it failed",
            };
            outcome.result = StepResult::Skipped(format!(
                "needs `{name}`, which step `{}` did not capture ({why})",
                by.name
            ));
        } else {
            run_step(plan, step, client, sources, &base_dir, &mut scope, &mut outcome, sink).await;
        }
        let failed = matches!(outcome.result, StepResult::Failed(_) | StepResult::Error(_));
        if failed && stop.is_none() {
            if step.role == Role::Auth {
                stop = Some(format!("auth step `{}` failed", step.name));
            } else if opts.fail_fast {
                stop = Some(format!("--fail-fast: step `{}` failed", step.name));
            }
        }
        sink.event(&Event::StepFinished(&outcome));
        outcomes.push(outcome);
    }
    let outcome =
        CollectionOutcome { name: c.name.clone(), path, steps: outcomes, elapsed: started.elapsed() };
    sink.event(&Event::CollectionFinished(&outcome));
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    plan: &Plan<'_>,
    step: &Step,
    client: &HttpClient,
    sources: &SourceMap,
    base_dir: &Path,
    scope: &mut Scope,
    outcome: &mut StepOutcome,
    sink: &mut dyn Sink,
) {
    let ctx = Arc::new(scope.clone()).context();
    let render = |n: &Node| plan.templates.render(n, &ctx, sources);
    let request = match resolve(plan, step, &ctx, &render, base_dir, &plan.masker) {
        Ok(r) => r,
        Err(e) => {
            outcome.result =
                StepResult::Error(StepError { message: e.message, span: Some(e.span), help: None });
            return;
        }
    };
    outcome.url = Some(request.url.clone());
    let response = client.send(&request).await;
    let ex = match response {
        Ok(ex) => ex,
        Err(e) => {
            sink.event(&Event::Exchange { request: &request, response: None });
            outcome.result = StepResult::Error(http_error(&e, step));
            return;
        }
    };
    outcome.status = Some(ex.status);
    outcome.elapsed = ex.elapsed;
    // Secrets in the response are registered before anything about it is shown.
    if let Some(doc) = ex.json() {
        register_secret_fields(&plan.masker, doc);
    }
    let mut failures: Vec<Failure> = Vec::new();
    for cap in &step.captures {
        match capture(&cap.source, &ex) {
            Ok(value) => {
                if cap.secret.unwrap_or(step.role == Role::Auth) {
                    register_secret(&plan.masker, &value);
                }
                scope.set_json(&cap.name.name, &value);
            }
            Err(message) => failures.push(Failure {
                span: cap.name.span,
                subject: format!("capture `{}`", cap.name.name),
                expected: "a value".into(),
                actual: message,
            }),
        }
    }
    sink.event(&Event::Exchange { request: &request, response: Some(&ex) });
    // A wrong status explains a missing capture better than the capture does: list it first.
    let mut checked = assert::check(step, &ex, &render);
    checked.append(&mut failures);
    let failures = checked;
    if !failures.is_empty() {
        outcome.body_excerpt = Some(excerpt(&ex.text(), 300));
        outcome.result = StepResult::Failed(failures);
    }
}

fn register_secret(masker: &Masker, value: &Json) {
    match value {
        Json::String(s) => masker.add(s),
        Json::Array(items) => items.iter().for_each(|v| register_secret(masker, v)),
        Json::Object(map) => map.values().for_each(|v| register_secret(masker, v)),
        _ => {}
    }
}

fn http_error(e: &HttpError, step: &Step) -> StepError {
    let help = match e {
        HttpError::Tls(_) => Some("pass the server's CA with `--cacert PATH`, or `--insecure` to skip verification (not for production)".to_string()),
        HttpError::Timeout(_) => Some("raise the limit with `timeout:` on the step or `--timeout`".to_string()),
        HttpError::Connect(_) => Some("is the server running and the URL right?".to_string()),
        _ => None,
    };
    StepError { message: e.to_string(), span: Some(step.url.span), help }
}

/// A rendered value that must be text (URL, header…); null means "leave out".
fn scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        other => Some(as_text(other)),
    }
}

fn render_pairs<'n>(
    pairs: impl IntoIterator<Item = (&'n Key, &'n Node)>,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    out: &mut Vec<(String, String)>,
) -> Result<(), RenderError> {
    for (k, n) in pairs {
        match render(n)? {
            Json::Array(items) => {
                out.extend(items.iter().filter_map(scalar_text).map(|v| (k.name.clone(), v)))
            }
            v => out.extend(scalar_text(&v).map(|v| (k.name.clone(), v))),
        }
    }
    Ok(())
}

/// Merges default and step pairs: a step entry replaces the default of the same name.
/// Yields references: templates are looked up by node identity, so nodes are never cloned.
fn merged<'a>(
    defaults: &'a [(Key, Node)],
    own: &'a [(Key, Node)],
    case_insensitive: bool,
) -> impl Iterator<Item = (&'a Key, &'a Node)> {
    let same = move |a: &str, b: &str| if case_insensitive { a.eq_ignore_ascii_case(b) } else { a == b };
    defaults
        .iter()
        .filter(move |(k, _)| !own.iter().any(|(o, _)| same(&o.name, &k.name)))
        .chain(own.iter())
        .map(|(k, v)| (k, v))
}

/// The issued `token_type` as an HTTP scheme: `bearer` (any case) becomes `Bearer`,
/// other schemes are sent as issued, none means `Bearer`.
fn scheme(token_type: Option<minijinja::Value>) -> String {
    match token_type.map(|v| v.to_string()) {
        Some(t) if t.eq_ignore_ascii_case("bearer") || t.trim().is_empty() => "Bearer".into(),
        Some(t) => t,
        None => "Bearer".into(),
    }
}

fn text_of(
    n: &Node,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    what: &str,
) -> Result<String, RenderError> {
    match render(n)? {
        Json::String(s) => Ok(s),
        Json::Number(x) => Ok(x.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(RenderError {
            span: n.span,
            message: format!("`{what}` must render to text, got {}", crate::model::JsonType::of(&other)),
            undefined: None,
        }),
    }
}

/// Renders a step into a request ready to send.
pub fn resolve(
    plan: &Plan<'_>,
    step: &Step,
    ctx: &minijinja::Value,
    render: &dyn Fn(&Node) -> Result<Json, RenderError>,
    base_dir: &Path,
    masker: &Masker,
) -> Result<ResolvedRequest, RenderError> {
    let d = &plan.collection.defaults;
    let mut url = text_of(&step.url, render, "url")?;
    let mut query = Vec::new();
    render_pairs(merged(&d.query, &step.query, false), render, &mut query)?;
    if !query.is_empty() {
        let (base, fragment) = match url.find('#') {
            Some(i) => (url[..i].to_string(), url[i..].to_string()),
            None => (url.clone(), String::new()),
        };
        let sep = if base.contains('?') {
            if base.ends_with('?') || base.ends_with('&') { "" } else { "&" }
        } else {
            "?"
        };
        let qs = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
        url = format!("{base}{sep}{qs}{fragment}");
    }
    let mut headers = Vec::new();
    render_pairs(merged(&d.headers, &step.headers, true), render, &mut headers)?;
    let has_auth_header = step.headers.iter().any(|(k, _)| k.name.eq_ignore_ascii_case("authorization"));
    match plan.collection.auth_for(step) {
        Some(AuthSpec::Bearer(t)) if !has_auth_header => {
            let token = text_of(t, render, "bearer")?;
            masker.add(&token);
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        Some(AuthSpec::Basic { username, password }) if !has_auth_header => {
            let user = text_of(username, render, "basic.username")?;
            let pass = text_of(password, render, "basic.password")?;
            masker.add(&pass);
            let cred = basic_credential(&user, &pass);
            masker.add(&cred);
            headers.push(("Authorization".into(), format!("Basic {cred}")));
        }
        Some(AuthSpec::OAuth2) if !has_auth_header => {
            let var = |name: &str| ctx.get_attr(name).ok().filter(|v| !v.is_undefined() && !v.is_none());
            let token = var(oauth2_vars::ACCESS_TOKEN).map(|v| v.to_string()).ok_or_else(|| RenderError {
                span: step.name_span,
                message: "no OAuth2 access token yet".into(),
                undefined: Some(oauth2_vars::ACCESS_TOKEN.into()),
            })?;
            masker.add(&token);
            headers
                .push(("Authorization".into(), format!("{} {token}", scheme(var(oauth2_vars::TOKEN_TYPE)))));
        }
        _ => {}
    }
    for (name, value) in &headers {
        if SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            let token = value.split_once(' ').map_or(value.as_str(), |(_, t)| t);
            masker.add(token);
        }
    }
    let body = match &step.body {
        None => ResolvedBody::None,
        Some(Body::Json(n)) => ResolvedBody::Json(render(n)?),
        Some(Body::Form(pairs)) => {
            let mut out = Vec::new();
            render_pairs(pairs.iter().map(|(k, v)| (k, v)), render, &mut out)?;
            ResolvedBody::Form(out)
        }
        Some(Body::Raw { body, content_type }) => ResolvedBody::Raw {
            text: text_of(body, render, "body")?,
            content_type: content_type.as_ref().map(|n| text_of(n, render, "content_type")).transpose()?,
        },
        Some(Body::Multipart(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                out.push(match &p.kind {
                    PartKind::Text(n) => ResolvedPart::Text {
                        name: p.name.name.clone(),
                        value: text_of(n, render, "multipart field")?,
                    },
                    PartKind::File { path, filename, content_type } => {
                        let rel = text_of(path, render, "file")?;
                        let full = base_dir.join(&rel);
                        let filename = match filename {
                            Some(f) => text_of(f, render, "filename")?,
                            None => Path::new(&rel)
                                .file_name()
                                .map(|f| f.to_string_lossy().into_owned())
                                .unwrap_or(rel.clone()),
                        };
                        ResolvedPart::File {
                            name: p.name.name.clone(),
                            path: full,
                            filename,
                            content_type: content_type
                                .as_ref()
                                .map(|n| text_of(n, render, "content_type"))
                                .transpose()?,
                        }
                    }
                });
            }
            ResolvedBody::Multipart(out)
        }
    };
    Ok(ResolvedRequest {
        method: step.method.clone(),
        url,
        headers,
        body,
        timeout: step.timeout.or(d.timeout),
    })
}
