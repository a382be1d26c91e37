//! Variables: the layers, dependency order, cycles, and rendering each value once.

use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::model::Collection;
use crate::secret::{Masker, is_secret_name};
use crate::source::{Key, SourceMap};
use crate::template::{Engine, FUNCTIONS, GrowingScope, RenderCause, RenderError, Scope, Template};
use crate::yaml::Node;
use std::collections::{HashMap, HashSet};

/// Variables given from outside the collection, in increasing priority.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `(name, value)` from `--env-file`, `BATON_VAR_name` and `--var`, in that order; later entries win.
    pub values: Vec<(String, String)>,
    /// Names given with `--secret NAME=VALUE` or `BATON_SECRET_name`: secret whatever the name.
    pub secret: Vec<String>,
    /// A data row's values: above the collection's `vars`, below everything above.
    pub row: Vec<(String, serde_json::Value)>,
}

/// One variable's winning definition, compiled, with the definitions it reads.
struct Def<'a> {
    key: &'a Key,
    node: &'a Node,
    compiled: Option<Template<'a>>,
    deps: Vec<usize>,
}

/// Applies the variable layers: `vars` (recipes, the collection, include overrides and the
/// environment profile, later definitions winning), then the overrides from outside.
///
/// Variables are rendered in dependency order, so one may use another defined below it;
/// a cycle is an error naming every variable in it.
pub fn resolve_vars(
    c: &Collection,
    engine: &Engine,
    overrides: &Overrides,
    sources: &SourceMap,
    masker: &Masker,
) -> Result<Scope, Vec<Diagnostic>> {
    let mut scope = Scope::default();
    let listed = |name: &str| {
        is_secret_name(name)
            || overrides.secret.iter().any(|s| s == name)
            || c.secrets.iter().any(|k| k.name == name)
    };
    for (name, value) in &overrides.row {
        if listed(name) {
            crate::secret::register_all(masker, value);
        }
        scope.set_json(name, value);
    }
    for (name, value) in &overrides.values {
        if listed(name) {
            masker.add(value);
        }
        scope.set(name, minijinja::Value::from(value.as_str()));
    }
    let overridden: HashSet<&str> = overrides
        .values
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(overrides.row.iter().map(|(n, _)| n.as_str()))
        .collect();
    let mut diags = Vec::new();
    let defs = definitions(c, &overridden, engine, sources, &mut diags);
    // A value that reads a variable in a cycle, or one that failed, is not rendered: the
    // problem is already reported where it is.
    let mut rendered = vec![false; defs.len()];
    let growing = GrowingScope::new(scope);
    let ctx = growing.context();
    for i in dependency_order(&defs, &mut diags) {
        let Some(t) = &defs[i].compiled else { continue };
        if defs[i].deps.iter().any(|&d| d != i && !rendered[d]) {
            continue;
        }
        match t.render(&ctx, sources) {
            Ok(value) => {
                if listed(&defs[i].key.name) {
                    crate::secret::register_all(masker, &value);
                }
                growing.set_json(&defs[i].key.name, &value);
                rendered[i] = true;
            }
            Err(e) => diags.push(render_problem(&e, defs[i].key, &growing.snapshot(), &defs)),
        }
    }
    if diags.is_empty() { Ok(growing.snapshot()) } else { Err(diags) }
}

/// The last definition of each name not overridden from outside, in first-seen order,
/// compiled, with the indexes of the definitions each reads.
fn definitions<'a>(
    c: &'a Collection,
    overridden: &HashSet<&str>,
    engine: &'a Engine,
    sources: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Def<'a>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut winners: Vec<(&Key, &Node)> = Vec::new();
    for (key, node) in &c.vars {
        if let Some(d) = crate::parse::bad_variable_name(key) {
            diags.push(d);
            continue;
        }
        if overridden.contains(key.name.as_str()) {
            continue;
        }
        match index.get(key.name.as_str()) {
            Some(&i) => winners[i] = (key, node),
            None => {
                index.insert(&key.name, winners.len());
                winners.push((key, node));
            }
        }
    }
    winners
        .into_iter()
        .map(|(key, node)| match engine.compile(node, sources) {
            Ok(t) => {
                let mut used = Vec::new();
                t.variables(sources, &mut used);
                let deps = used.iter().filter_map(|(n, _)| index.get(n.as_str()).copied()).collect();
                Def { key, node, compiled: Some(t), deps }
            }
            Err(d) => {
                diags.extend(d);
                Def { key, node, compiled: None, deps: Vec::new() }
            }
        })
        .collect()
}

/// Each definition after the definitions it reads (depth-first, iteratively, so a long
/// chain of variables cannot exhaust the stack); every cycle is reported once.
fn dependency_order(defs: &[Def<'_>], diags: &mut Vec<Diagnostic>) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; defs.len()];
    let mut order = Vec::with_capacity(defs.len());
    for root in 0..defs.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // (definition, how many of its dependencies were visited)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Active;
        while let Some(&mut (i, ref mut next)) = stack.last_mut() {
            let Some(&d) = defs[i].deps.get(*next) else {
                marks[i] = Mark::Done;
                order.push(i);
                stack.pop();
                continue;
            };
            *next += 1;
            match marks[d] {
                _ if d == i => {}
                Mark::New => {
                    marks[d] = Mark::Active;
                    stack.push((d, 0));
                }
                Mark::Active => {
                    let from = stack.iter().position(|&(j, _)| j == d).unwrap_or(0);
                    let cycle: Vec<usize> = stack[from..].iter().map(|&(j, _)| j).collect();
                    diags.push(cycle_problem(defs, &cycle));
                    // The members stay unrendered; each cycle is reported once.
                    for &j in &cycle {
                        marks[j] = Mark::Done;
                    }
                    stack.truncate(from);
                }
                Mark::Done => {}
            }
        }
    }
    order
}

fn cycle_problem(defs: &[Def<'_>], cycle: &[usize]) -> Diagnostic {
    let names: Vec<String> = cycle.iter().map(|&j| format!("`{}`", defs[j].key.name)).collect();
    let mut d = Diagnostic::error(
        Code::VariableCycle,
        format!("variables {} depend on each other", names.join(" → ")),
    )
    .at(defs[cycle[0]].node.span, "this value reads the next one")
    .help("break the cycle: give one of them a plain value");
    for &j in &cycle[1..] {
        d = d.also(defs[j].node.span, format!("`{}` is defined here", defs[j].key.name));
    }
    d
}

/// A variable's value failed to render: say which variable, and how to fix it.
fn render_problem(e: &RenderError, key: &Key, scope: &Scope, defs: &[Def<'_>]) -> Diagnostic {
    let mut d = e.to_diagnostic();
    match &e.cause {
        RenderCause::Undefined(name) => {
            d.code = Code::UndefinedVariable;
            d.message = format!("undefined variable `{name}` in `vars.{}`", key.name);
            let known: Vec<&str> = scope
                .names()
                .chain(defs.iter().map(|def| def.key.name.as_str()))
                .chain(FUNCTIONS.iter().copied())
                .collect();
            d.help_opt(did_you_mean(name, known).map(|k| format!("did you mean `{k}`?")))
        }
        RenderCause::MissingEnv(name) => {
            d.code = Code::MissingEnv;
            d.labels.iter_mut().for_each(|l| l.text = "needs this environment variable".into());
            d.help(format!(
                "set {name}, put it in a file passed with `--env-file`, or give a default: `default='…'`"
            ))
        }
        RenderCause::WrongType | RenderCause::TooLarge | RenderCause::Other => d,
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::Fixture;

    #[test]
    fn a_value_reading_a_cycle_is_not_reported_again() {
        let f = Fixture::new(
            "vars:\n  x: '{{ a }}!'\n  a: '{{ b }}'\n  b: '{{ a }}'\nrequests:\n  - url: http://h\n",
        );
        assert_eq!(f.codes(), ["variable-cycle"]);
    }

    #[test]
    fn a_long_chain_of_variables_resolves_without_deep_recursion() {
        let mut yaml = String::from("vars:\n  v0: start\n");
        for i in 1..5000 {
            yaml.push_str(&format!("  v{i}: '{{{{ v{} }}}}'\n", i - 1));
        }
        yaml.push_str("requests:\n  - url: 'http://h/{{ v4999 }}'\n");
        let f = Fixture::new(&yaml);
        let plan = f.valid();
        let ctx = f.context(&plan, &[]);
        assert_eq!(ctx.text(&plan.step(0).url, "url").expect("text"), "http://h/start");
    }

    #[test]
    fn the_last_definition_of_a_name_wins_even_for_values_defined_before_it() {
        // Layers (recipes, the collection, include overrides, `--env` profiles) append to
        // `vars`; a later layer's definition replaces an earlier one everywhere.
        let mut f = Fixture::new("vars:\n  a: one\n  b: '{{ a }}'\nrequests:\n  - url: 'http://h/{{ b }}'\n");
        let profile = Fixture::new("vars:\n  a: two\nrequests: []\n");
        f.collection.vars.push(profile.collection.vars[0].clone());
        let plan = f.valid();
        let ctx = f.context(&plan, &[]);
        assert_eq!(ctx.text(&plan.step(0).url, "url").expect("text"), "http://h/two");
    }
}
