//! The text of `baton plan`.

use std::sync::Arc;

use crate::exec;
use crate::model::Role;
use crate::plan::Plan;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::template::Scope;

/// Text of `baton plan` for one collection: each step's rendered request.
pub(super) fn describe_plan(plan: &Plan<'_>, sources: &SourceMap, masker: &Masker) -> String {
    let c = plan.collection;
    let path = sources.get(c.file).map(|f| f.path.display().to_string()).unwrap_or_default();
    let mut out = format!("{} ({path})\n", c.name);
    // Captured values are unknown before running: show a placeholder naming their source.
    let mut scope: Scope = (*plan.scope).clone();
    for step in c.steps().filter(|s| !s.lifecycle.refresh_only) {
        // Optional captures (an OAuth2 token type, say) stay unset: their fallbacks apply.
        for cap in step.captures.iter().filter(|cap| !cap.optional) {
            scope.set(
                &cap.name.name,
                minijinja::Value::from(format!("<{} from {}>", cap.name.name, step.name)),
            );
        }
    }
    let ctx = Arc::new(scope).context();
    let base = sources
        .get(c.file)
        .and_then(|f| f.path.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    for (n, ps) in plan.steps.iter().enumerate() {
        let step = plan.step(ps.index);
        let role = match (step.role, step.lifecycle.refresh_only) {
            (Role::Auth, true) => " (auth, only to renew credentials)",
            (Role::Auth, false) => " (auth)",
            _ => "",
        };
        out.push_str(&format!("\n{}. {}{role}\n", n + 1, step.name));
        let render = |node: &crate::yaml::Node| plan.templates.render(node, &ctx, sources);
        match exec::resolve(plan, step, &ctx, &render, &base, masker) {
            Ok(req) => {
                out.push_str(&format!("   {} {}\n", req.method, req.url));
                for (k, v) in &req.headers {
                    out.push_str(&format!("   {k}: {v}\n"));
                }
                if let Some(body) = req.body.preview() {
                    for l in body.lines() {
                        out.push_str(&format!("   | {l}\n"));
                    }
                }
            }
            Err(e) => {
                out.push_str(&format!("   {} (not renderable before running: {})\n", step.method, e.message))
            }
        }
        if !ps.needs.is_empty() {
            let needs: Vec<String> =
                ps.needs.iter().map(|(v, j)| format!("{v} (from {})", plan.step(*j).name)).collect();
            out.push_str(&format!("   needs: {}\n", needs.join(", ")));
        }
        if !step.captures.is_empty() {
            let caps: Vec<String> = step
                .captures
                .iter()
                .map(|cap| {
                    let secret = cap.secret.unwrap_or(step.role == Role::Auth);
                    format!("{} = {}{}", cap.name.name, cap.source, if secret { " (secret)" } else { "" })
                })
                .collect();
            out.push_str(&format!("   captures: {}\n", caps.join(", ")));
        }
    }
    out
}
