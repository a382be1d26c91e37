//! The checked plan: compiled steps and the data flow between them.
//!
//! A [`Plan`] exists only for a collection that passed validation. It is self-sufficient:
//! each step carries its own compiled templates (the collection's defaults and credentials
//! already folded in), so the executor, `resolve` and `assert` never look back at the
//! authored YAML.

use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::model::{Role, Step};
use crate::secret::Masker;
use crate::source::FileId;
use crate::template::{Scope, Template};

/// A step whose every templated value is compiled.
pub type CompiledStep<'a> = Step<Template<'a>>;

/// A captured variable a step reads, and the earlier step that captures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The variable.
    pub name: String,
    /// Run position of the step that provides it.
    pub from: usize,
}

/// One step, checked.
#[derive(Debug)]
pub struct PlannedStep<'a> {
    /// Position in run order (auth steps first).
    pub index: usize,
    /// The compiled step.
    pub step: CompiledStep<'a>,
    /// Captured variables this step reads, with the step that captures each.
    pub needs: Vec<Need>,
    /// The credential profiles (positions in the collection's) this step belongs to (an
    /// auth step) or uses (a request: the one it sends the token of, and those whose
    /// auth steps captured what it reads), each renewed and re-authenticated on its own.
    pub sessions: Vec<usize>,
}

/// A validated collection, ready to run.
pub struct Plan<'a> {
    /// The collection's name.
    pub name: String,
    /// The file it came from.
    pub file: FileId,
    /// The collection's `tags:`.
    pub tags: Vec<String>,
    /// Variables after all layers were applied.
    pub scope: Arc<Scope>,
    /// Steps in run order (auth steps, including refresh-only ones, then requests).
    pub steps: Vec<PlannedStep<'a>>,
    /// Which steps `--tag`, `--skip-tag` and `--step` keep (all by default).
    pub selected: Vec<bool>,
    /// The secret registry (shared with the template engine).
    pub masker: Masker,
    /// What validation found that is sent as written but probably not meant.
    pub warnings: Vec<Diagnostic>,
    /// The collection's `description:`.
    pub description: Option<String>,
    /// Whether the collection keeps a cookie jar (`cookies: false` turns it off).
    pub cookies: bool,
    /// The passes the requests run (after the auth steps, once): one per data row and
    /// `--repeat`; empty: one pass with [`Plan::scope`].
    pub passes: Vec<Pass>,
}

/// One pass of a collection's requests: a data row, a repetition, or both.
#[derive(Debug, Clone)]
pub struct Pass {
    /// `row 2: b@example.test`, `run 2/3`: added to each step's name in the reports.
    pub label: String,
    /// The variables of this pass (the row's layer applied).
    pub scope: Arc<Scope>,
}

impl<'a> Plan<'a> {
    /// The compiled step at run position `i`.
    pub fn step(&self, i: usize) -> &CompiledStep<'a> {
        &self.steps[i].step
    }

    /// The profile auth step `i` belongs to (0 for a step outside any).
    pub fn profile_of(&self, i: usize) -> usize {
        self.steps[i].sessions.first().copied().unwrap_or(0)
    }

    /// How many credential profiles the steps name (at least one).
    pub fn profile_count(&self) -> usize {
        self.steps.iter().flat_map(|ps| ps.sessions.iter()).max().map_or(1, |m| m + 1)
    }

    /// Steps that run in sequence (refresh-only steps run only to renew credentials).
    pub fn sequence(&self) -> impl Iterator<Item = &PlannedStep<'a>> {
        self.steps.iter().filter(|ps| !ps.step.lifecycle.refresh_only)
    }

    /// The requests (not auth steps), in order.
    pub fn requests(&self) -> impl Iterator<Item = &CompiledStep<'a>> {
        self.steps.iter().map(|ps| &ps.step).filter(|s| s.role == Role::Request)
    }

    /// Whether any step persists its results in the state file (`once:` or `cache:`).
    pub fn persists(&self) -> bool {
        self.steps.iter().any(|ps| ps.step.lifecycle.once || ps.step.lifecycle.cache)
    }
}
