//! The text of `baton plan`.

use std::fmt::Write as _;

use crate::exchange::ResolvedRequest;
use crate::model::Role;
use crate::plan::{CompiledStep, Plan, PlannedStep};
use crate::resolve::resolve;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::template::{RenderCause, RenderContext, RenderError, Scope};

/// Text of `baton plan` for one collection: each step's rendered request.
pub(super) fn describe_plan(plan: &Plan<'_>, sources: &SourceMap, masker: &Masker) -> String {
    let path = sources.get(plan.file).map(|f| f.path.display().to_string()).unwrap_or_default();
    let mut out = format!("{} ({path})\n", plan.name);
    if let Some(d) = &plan.description {
        for l in d.lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !plan.cookies {
        out.push_str("  (no cookie jar: `cookies: false`)\n");
    }
    if !plan.passes.is_empty() {
        let shown: Vec<&str> = plan.passes.iter().take(5).map(|p| p.label.as_str()).collect();
        let more = plan.passes.len().saturating_sub(shown.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let _ = writeln!(
            out,
            "  the requests run {} times (auth steps once): {}{more}; shown for the first",
            plan.passes.len(),
            shown.join("; ")
        );
    }
    // Captured values are unknown before running: show a placeholder naming their source.
    let mut scope: Scope = (*plan.scope).clone();
    for step in plan.sequence().map(|ps| &ps.step) {
        // Optional captures (an OAuth2 token type, say) stay unset: their fallbacks apply.
        for cap in step.captures.iter().filter(|cap| !cap.optional) {
            scope.set(
                &cap.name.name,
                minijinja::Value::from(format!("<{} from {}>", cap.name.name, step.name)),
            );
        }
    }
    let base = sources
        .get(plan.file)
        .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    for (n, ps) in plan.steps.iter().enumerate() {
        describe_step(&mut out, n + 1, ps, plan, &scope, sources, &base, masker);
    }
    out
}

/// Resolves `step` for display: a variable known only while running (an optional
/// capture such as the refresh token a renewal step sends) becomes a placeholder naming
/// where it comes from, so the rest of the request is still shown.
fn resolve_shown(
    step: &CompiledStep<'_>,
    plan: &Plan<'_>,
    scope: &Scope,
    sources: &SourceMap,
    base: &std::path::Path,
    masker: &Masker,
) -> Result<ResolvedRequest, RenderError> {
    let mut scope = std::borrow::Cow::Borrowed(scope);
    // Each round names one more unknown variable; a step reads only so many.
    for _ in 0..16 {
        let ctx = RenderContext::new(&scope, sources).masking(masker);
        match resolve(step, &ctx, base, masker) {
            Err(RenderError { cause: RenderCause::Undefined(name), .. })
                if !name.is_empty() && !scope.contains(&name) =>
            {
                let from = plan
                    .sequence()
                    .find(|ps| ps.step.captures.iter().any(|c| c.name.name == name))
                    .map_or_else(
                        || "known only when running".to_string(),
                        |ps| format!("from {}", ps.step.name),
                    );
                scope.to_mut().set(&name, minijinja::Value::from(format!("<{name} {from}>")));
            }
            other => return other,
        }
    }
    resolve(step, &RenderContext::new(&scope, sources).masking(masker), base, masker)
}

#[allow(clippy::too_many_arguments)]
fn describe_step(
    out: &mut String,
    n: usize,
    ps: &PlannedStep<'_>,
    plan: &Plan<'_>,
    scope: &Scope,
    sources: &SourceMap,
    base: &std::path::Path,
    masker: &Masker,
) {
    let step = &ps.step;
    let role = match (step.role, step.lifecycle.refresh_only) {
        (Role::Auth, true) => " (auth, only to renew credentials)",
        (Role::Auth, false) => " (auth)",
        _ => "",
    };
    let _ = writeln!(out, "\n{n}. {}{role}", step.name);
    if let Some(d) = &step.description {
        for l in d.lines() {
            let _ = writeln!(out, "   # {l}");
        }
    }
    if let Some(c) = &step.condition {
        let key = if c.skip_if { "skip_if" } else { "if" };
        let _ = writeln!(out, "   {key}: {}", sources.text(c.when.span()).trim());
    }
    if let Some(wait) = step.wait {
        let _ = writeln!(out, "   waits {}, sends nothing", crate::event::human_duration(wait));
        return;
    }
    if let Some(delay) = step.delay {
        let _ = writeln!(out, "   delay: {} before sending", crate::event::human_duration(delay));
    }
    match step.http {
        Some(crate::model::HttpVersion::Http1) => {
            let _ = writeln!(out, "   http: 1.1 only");
        }
        Some(crate::model::HttpVersion::Http2) => {
            let _ = writeln!(out, "   http: 2 (h2c with prior knowledge on http://)");
        }
        None => {}
    }
    match step.redirects {
        Some(0) => {
            let _ = writeln!(out, "   redirects: not followed");
        }
        Some(max) => {
            let _ = writeln!(out, "   redirects: at most {max}");
        }
        None => {}
    }
    match resolve_shown(step, plan, scope, sources, base, masker) {
        Ok(req) => {
            if let Some(tls) = &req.tls {
                let mut said = Vec::new();
                if tls.insecure {
                    said.push("certificates NOT verified".to_string());
                }
                let shown = |p: &std::path::Path| p.strip_prefix(base).unwrap_or(p).display().to_string();
                if let Some(ca) = &tls.ca {
                    said.push(format!("trusts {}", shown(ca)));
                }
                if let Some((cert, _)) = &tls.identity {
                    said.push(format!("client certificate {}", shown(cert)));
                }
                if !said.is_empty() {
                    let _ = writeln!(out, "   tls: {}", said.join(", "));
                }
            }
            let _ = writeln!(out, "   {} {}", req.method, req.url);
            for (k, v) in &req.headers {
                let _ = writeln!(out, "   {k}: {v}");
            }
            if let Some(body) = req.body.preview() {
                for l in body.lines() {
                    let _ = writeln!(out, "   | {l}");
                }
            }
        }
        Err(e) => {
            // What is known: the URL as written, marked.
            let url = sources.text(step.url.span()).trim_matches(['"', '\'']);
            let _ = writeln!(out, "   {} {url}", step.method);
            let _ = writeln!(out, "   (not renderable before running: {})", e.message);
        }
    }
    if !ps.needs.is_empty() {
        let needs: Vec<String> = ps
            .needs
            .iter()
            .map(|need| format!("{} (from {})", need.name, plan.step(need.from).name))
            .collect();
        let _ = writeln!(out, "   needs: {}", needs.join(", "));
    }
    if !step.captures.is_empty() {
        let _ = writeln!(out, "   captures: {}", captures(step, sources));
    }
}

fn captures(step: &CompiledStep<'_>, sources: &SourceMap) -> String {
    let caps: Vec<String> = step
        .captures
        .iter()
        .map(|cap| {
            let secret = if cap.secret.unwrap_or(step.role == Role::Auth) { " (secret)" } else { "" };
            let then = cap.then.as_ref().map(|t| sources.text(t.span()).trim().trim_matches(['"', '\'']));
            match (&cap.source, then) {
                (crate::model::CaptureSource::Let, Some(t)) => format!("{} = let {t}{secret}", cap.name.name),
                (source, Some(t)) => format!("{} = {source} then {t}{secret}", cap.name.name),
                (source, None) => format!("{} = {source}{secret}", cap.name.name),
            }
        })
        .collect();
    caps.join(", ")
}
