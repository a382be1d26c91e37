//! The text of `baton plan`.

use std::fmt::Write as _;

use crate::model::Role;
use crate::plan::{CompiledStep, Plan, PlannedStep};
use crate::resolve::resolve;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::template::{RenderContext, Scope};

/// Text of `baton plan` for one collection: each step's rendered request.
pub(super) fn describe_plan(plan: &Plan<'_>, sources: &SourceMap, masker: &Masker) -> String {
    let path = sources.get(plan.file).map(|f| f.path.display().to_string()).unwrap_or_default();
    let mut out = format!("{} ({path})\n", plan.name);
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
    let ctx = RenderContext::new(&scope, sources).masking(masker);
    let base = sources
        .get(plan.file)
        .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    for (n, ps) in plan.steps.iter().enumerate() {
        describe_step(&mut out, n + 1, ps, plan, &ctx, &base, masker);
    }
    out
}

fn describe_step(
    out: &mut String,
    n: usize,
    ps: &PlannedStep<'_>,
    plan: &Plan<'_>,
    ctx: &RenderContext<'_>,
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
    match resolve(step, ctx, base, masker) {
        Ok(req) => {
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
            let _ = writeln!(out, "   {} (not renderable before running: {})", step.method, e.message);
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
        let _ = writeln!(out, "   captures: {}", captures(step));
    }
}

fn captures(step: &CompiledStep<'_>) -> String {
    let caps: Vec<String> = step
        .captures
        .iter()
        .map(|cap| {
            let secret = cap.secret.unwrap_or(step.role == Role::Auth);
            format!("{} = {}{}", cap.name.name, cap.source, if secret { " (secret)" } else { "" })
        })
        .collect();
    caps.join(", ")
}
