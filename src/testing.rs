//! Unit-test helpers: collections from YAML strings, validated into plans, and responses
//! built in memory. Compiled only for tests.

use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::exchange::Exchange;
use crate::model::Collection;
use crate::plan::Plan;
use crate::secret::Masker;
use crate::source::SourceMap;
use crate::template::{Engine, RenderContext, Scope};
use crate::validate::{self, Overrides};

/// A collection parsed from a string, with what validating it needs.
pub(crate) struct Fixture {
    pub sources: SourceMap,
    pub collection: Collection,
    pub engine: Engine,
    pub masker: Masker,
}

impl Fixture {
    /// Parses `yaml` as `t.yaml`; panics with the rendered problems if it does not parse.
    pub fn new(yaml: &str) -> Fixture {
        Fixture::with_env(yaml, &[])
    }

    /// Like [`Fixture::new`], with environment variables for `env()`/`secret_env()`.
    pub fn with_env(yaml: &str, env: &[(&str, &str)]) -> Fixture {
        let mut sources = SourceMap::default();
        let id = sources.add("t.yaml", yaml.to_string());
        let file = sources.get(id).expect("file");
        let parsed = crate::yaml::parse(file, id)
            .map_err(|d| vec![d])
            .and_then(|node| crate::parse::parse_collection(&node, id, &file.text, "t"));
        let collection = match parsed {
            Ok(c) => c,
            Err(ds) => panic!("{}", render(&ds, &sources)),
        };
        let masker = Masker::default();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let engine = Engine::new(Arc::new(env), masker.clone());
        Fixture { sources, collection, engine, masker }
    }

    /// Validates the collection into a plan, or returns every problem.
    pub fn plan(&self) -> Result<Plan<'_>, Vec<Diagnostic>> {
        self.plan_with(&[])
    }

    /// Validates with `--var` style overrides.
    pub fn plan_with(&self, vars: &[(&str, &str)]) -> Result<Plan<'_>, Vec<Diagnostic>> {
        let overrides = Overrides {
            values: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            secret: Vec::new(),
            row: Vec::new(),
        };
        let c = &self.collection;
        validate::resolve_vars(c, &self.engine, &overrides, &self.sources, &self.masker)
            .and_then(|scope| validate::check(c, &self.engine, scope, &self.sources, &self.masker))
    }

    /// The plan, panicking with the rendered problems if the collection is invalid.
    pub fn valid(&self) -> Plan<'_> {
        self.plan().unwrap_or_else(|ds| panic!("{}", render(&ds, &self.sources)))
    }

    /// The codes of the problems validation finds (empty when valid).
    pub fn codes(&self) -> Vec<&'static str> {
        match self.plan() {
            Ok(_) => Vec::new(),
            Err(ds) => ds.iter().map(|d| d.code.as_str()).collect(),
        }
    }

    /// A render context over `plan`'s variables plus `extra` (captured values, say).
    pub fn context(&self, plan: &Plan<'_>, extra: &[(&str, serde_json::Value)]) -> RenderContext<'_> {
        let mut scope: Scope = (*plan.scope).clone();
        for (k, v) in extra {
            scope.set_json(k, v);
        }
        RenderContext::new(&scope, &self.sources)
    }
}

/// Every problem, rendered as the user would see it.
pub(crate) fn render(ds: &[Diagnostic], sources: &SourceMap) -> String {
    ds.iter().map(|d| d.render(sources, false)).collect::<Vec<_>>().join("\n")
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: u16, body: serde_json::Value) -> Exchange {
    Exchange::new(
        status,
        vec![("content-type".into(), "application/json".into())],
        body.to_string().into_bytes(),
    )
}

/// Renders template text `t` (a YAML string value) with `engine` and no variables; the
/// error is the render message.
pub(crate) fn render_with(engine: &crate::template::Engine, t: &str) -> Result<serde_json::Value, String> {
    let mut map = SourceMap::default();
    let quoted = serde_json::to_string(t).expect("text");
    let id = map.add("t.yaml", format!("v: {quoted}\n"));
    let file = map.get(id).expect("file");
    let root = crate::yaml::parse(file, id).expect("yaml");
    let crate::yaml::Value::Map(entries) = &root.value else { panic!("map") };
    let compiled = engine.compile(&entries[0].1, &map).map_err(|ds| format!("{ds:?}"))?;
    let scope = std::sync::Arc::new(crate::template::Scope::default());
    compiled.render(&scope.context(), &map).map_err(|e| e.message)
}
