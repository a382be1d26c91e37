//! Credentials stay with their origins: a request that carries credentials goes only to
//! an origin the collection itself names, never to one a server put in a captured value.
//!
//! The origins a collection names are those of its steps' URLs rendered from variables
//! alone (no captures). A request whose URL reads a captured value and carries
//! credentials (`Authorization`, cookies, API keys, any secret-named header) must land on
//! one of them; otherwise it is not sent, and the error names the captures.

use crate::event::StepError;
use crate::exchange::ResolvedRequest;
use crate::plan::{Plan, PlannedStep};
use crate::resolve::is_credential_header;
use crate::source::SourceMap;
use crate::template::RenderContext;

use crate::resolve::origin;

/// The origins the collection names: its URLs rendered from variables alone.
pub(super) fn named_origins(plan: &Plan<'_>, sources: &SourceMap) -> Vec<String> {
    let ctx = RenderContext::new(&plan.scope, sources);
    let mut out: Vec<String> = Vec::new();
    for ps in plan.steps.iter().filter(|ps| !reads_captures(ps, sources)) {
        if let Some(o) = ctx.text(&ps.step.url, "url").ok().as_deref().and_then(origin)
            && !out.contains(&o)
        {
            out.push(o);
        }
    }
    out
}

/// The captured variables a step's URL reads.
fn url_captures(ps: &PlannedStep<'_>, sources: &SourceMap) -> Vec<String> {
    let mut read = Vec::new();
    ps.step.url.variables(sources, &mut read);
    let mut names: Vec<String> =
        read.into_iter().map(|(n, _)| n).filter(|n| ps.needs.iter().any(|need| need.name == *n)).collect();
    names.dedup();
    names
}

fn reads_captures(ps: &PlannedStep<'_>, sources: &SourceMap) -> bool {
    !url_captures(ps, sources).is_empty()
}

/// Whether a request sends credentials.
fn carries_credentials(request: &ResolvedRequest) -> bool {
    request.signing.is_some()
        || !request.secret_headers.is_empty()
        || request.headers.iter().any(|(name, _)| is_credential_header(name))
}

/// Refuses a request that would carry credentials to an origin only a captured value chose.
pub(super) fn check(
    ps: &PlannedStep<'_>,
    request: &ResolvedRequest,
    named: &[String],
    sources: &SourceMap,
) -> Result<(), StepError> {
    if !carries_credentials(request) {
        return Ok(());
    }
    let captures = url_captures(ps, sources);
    if captures.is_empty() {
        return Ok(());
    }
    let to = origin(&request.url);
    if to.as_ref().is_some_and(|o| named.contains(o)) {
        return Ok(());
    }
    let names: Vec<String> = captures.iter().map(|c| format!("`{c}`")).collect();
    Err(StepError {
        message: format!(
            "not sent: the URL goes to {}, chosen by the captured {}, and the request carries credentials",
            to.as_deref().unwrap_or("an origin baton cannot tell"),
            names.join(", ")
        ),
        span: Some(ps.step.url.span()),
        help: Some(format!(
            "credentials go only to origins the collection names ({}); capture a path, not a host, or allow the origin with `--allow-origin`",
            if named.is_empty() { "none".to_string() } else { named.join(", ") }
        )),
    })
}

#[cfg(test)]
mod tests {
    use crate::resolve::origin;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(origin("http://127.0.0.1:8080/a?b").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("https://Example.TEST/x").as_deref(), Some("https://example.test"));
        assert_eq!(origin("http://127.0.0.1:80@127.0.0.1:9/x").as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(origin("/relative"), None);
    }
}
