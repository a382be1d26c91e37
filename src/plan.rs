//! The checked plan: compiled templates and the data flow between steps.
//!
//! A [`Plan`] exists only for a collection that passed validation. It holds every
//! template compiled once (looked up by node identity), the resolved variables, and
//! for each step the captured variables it needs and which earlier step provides them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{AuthSpec, Body, Check, Collection, Expect, PartKind, Step};
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::template::{Compiled, RenderError, Scope};
use crate::yaml::{Key, Node};

/// Compiled templates keyed by the address of their node in the (immutable) model.
#[derive(Default)]
pub struct Templates<'a> {
    table: HashMap<usize, Compiled<'a>>,
}

fn key(node: &Node) -> usize {
    std::ptr::from_ref(node) as usize
}

impl<'a> Templates<'a> {
    /// Stores the compiled form of `node` (literals need no entry).
    pub fn insert(&mut self, node: &Node, compiled: Compiled<'a>) {
        if !compiled.is_literal() {
            self.table.insert(key(node), compiled);
        }
    }

    /// The compiled form of `node`, if it holds a template.
    pub fn get(&self, node: &Node) -> Option<&Compiled<'a>> {
        self.table.get(&key(node))
    }

    /// Renders `node` with `ctx`.
    pub fn render(
        &self,
        node: &Node,
        ctx: &minijinja::Value,
        sources: &SourceMap,
    ) -> Result<serde_json::Value, RenderError> {
        match self.get(node) {
            Some(c) => c.render(ctx, sources),
            None => Ok(node.to_json()),
        }
    }
}

/// One step, checked.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// Position in run order (auth steps first).
    pub index: usize,
    /// Captured variables this step reads, with the index of the step that captures each.
    pub needs: Vec<(String, usize)>,
}

/// A validated collection, ready to run.
pub struct Plan<'a> {
    /// The authored collection.
    pub collection: &'a Collection,
    /// Variables after all layers were applied.
    pub scope: Arc<Scope>,
    /// Compiled templates.
    pub templates: Templates<'a>,
    /// Steps in run order.
    pub steps: Vec<PlannedStep>,
    /// Which steps `--tag`, `--skip-tag` and `--step` keep (all by default).
    pub selected: Vec<bool>,
    /// The secret registry (shared with the template engine).
    pub masker: Masker,
}

impl<'a> Plan<'a> {
    /// The authored step at run position `i`.
    pub fn step(&self, i: usize) -> &'a Step {
        let c = self.collection;
        if i < c.auth.len() { &c.auth[i] } else { &c.requests[i - c.auth.len()] }
    }
}

/// Every template-bearing node a step uses (its own and the defaults it inherits).
pub fn step_nodes<'a>(step: &'a Step, collection: &'a Collection) -> Vec<&'a Node> {
    let mut out = vec![&step.url];
    let d = &collection.defaults;
    let values = |pairs: &'a [(Key, Node)]| pairs.iter().map(|(_, v)| v);
    out.extend(values(&step.query));
    out.extend(values(&step.headers));
    out.extend(values(&d.query));
    out.extend(values(&d.headers));
    match collection.auth_for(step) {
        Some(AuthSpec::Bearer(t)) => out.push(t),
        Some(AuthSpec::Basic { username, password }) => out.extend([username, password]),
        Some(AuthSpec::None | AuthSpec::OAuth2) | None => {}
    }
    match &step.body {
        Some(Body::Json(n)) => out.push(n),
        Some(Body::Form(pairs)) => out.extend(values(pairs)),
        Some(Body::Multipart(parts)) => {
            for p in parts {
                match &p.kind {
                    PartKind::Text(n) => out.push(n),
                    PartKind::File { path, filename, content_type } => {
                        out.push(path);
                        out.extend(filename.iter().chain(content_type.iter()));
                    }
                }
            }
        }
        Some(Body::Raw { body, content_type }) => {
            out.push(body);
            out.extend(content_type.iter());
        }
        None => {}
    }
    expect_nodes(&step.expect, &mut out);
    if let Some(r) = &step.retry {
        for e in r.until.iter().chain(r.fail_if.iter()) {
            expect_nodes(e, &mut out);
        }
    }
    out
}

/// The template-bearing values of an `expect:` block.
fn expect_nodes<'a>(e: &'a Expect, out: &mut Vec<&'a Node>) {
    for m in e.headers.iter().map(|(_, m)| m).chain(e.json.iter().map(|(_, m)| m)) {
        for c in &m.checks {
            match c {
                Check::Equals(n) | Check::Len(n) | Check::Compare(_, n) | Check::Contains(n) => out.push(n),
                Check::Exists(_) | Check::Matches(_) | Check::Type(..) => {}
            }
        }
    }
    out.extend(e.body_contains.iter());
    out.extend(e.content_type.iter());
}
