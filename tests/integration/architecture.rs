//! Module boundaries, checked on the parsed source.
//!
//! Every file of the crate's module tree (from `src/lib.rs` and `src/main.rs`, following
//! `mod` declarations) is parsed with `syn`. The checker collects each `use` tree, with
//! groups and renames expanded, and every path written in code (expressions, types,
//! patterns, attributes, macro arguments that parse as expressions), then resolves each
//! path against the imports in scope: `use std::env; env::var(..)` is an edge to
//! `std::env::var`, `use crate::{http as h}; h::send()` one to `crate::http::send`, and
//! `super::`/`self::` are made absolute. Items behind `#[cfg(test)]`, and whole files
//! declared by a `#[cfg(test)] mod x;`, are left out by attribute: tests may use anything.
//! Comments, doc text and string literals are not code and never count.

use std::collections::HashMap;
use std::path::Path;

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, Item, Meta, Token, UseTree};

/// A reference from a source file to a path, resolved as far as imports allow.
#[derive(Debug, Clone)]
struct Edge {
    /// Path segments; a glob import ends in `*`.
    path: Vec<String>,
    /// 1-based line where it is written.
    line: usize,
}

/// A name brought into a scope: by `use`, `mod` or `extern crate`.
#[derive(Debug, Clone)]
struct Target {
    /// Already absolute (`mod` items, `::crate` paths): never looked up again.
    absolute: bool,
    segments: Vec<String>,
}

/// Walks one file and records its edges.
struct Scanner {
    /// The module being walked, e.g. `crate::report::terminal`.
    module: Vec<String>,
    /// Names in scope, innermost last: file or inline module, then nested blocks.
    scopes: Vec<HashMap<String, Target>>,
    edges: Vec<Edge>,
}

/// Whether an item with these attributes exists only when compiling tests.
fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<Meta>().is_ok_and(|m| cfg_needs_test(&m)))
}

/// Whether a `cfg` predicate can only hold with `test` on (`not(test)` is production code).
fn cfg_needs_test(meta: &Meta) -> bool {
    let nested = |list: &syn::MetaList| {
        list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).map(|p| p.into_iter().collect())
    };
    match meta {
        Meta::Path(p) => p.is_ident("test"),
        Meta::List(list) if list.path.is_ident("all") => {
            nested(list).is_ok_and(|items: Vec<Meta>| items.iter().any(cfg_needs_test))
        }
        Meta::List(list) if list.path.is_ident("any") => {
            nested(list).is_ok_and(|items: Vec<Meta>| !items.is_empty() && items.iter().all(cfg_needs_test))
        }
        _ => false,
    }
}

fn line_of(ident: &syn::Ident) -> usize {
    ident.span().start().line
}

/// Expands one `use` tree into `(name bound, target path, line)`; a glob binds no name.
fn use_leaves(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Option<String>, Vec<String>, usize)>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) if n.ident == "self" => {
            let bound = prefix.last().cloned();
            out.push((bound, prefix.clone(), line_of(&n.ident)));
        }
        UseTree::Name(n) => {
            let mut path = prefix.clone();
            path.push(n.ident.to_string());
            out.push((Some(n.ident.to_string()), path, line_of(&n.ident)));
        }
        UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            let bound = (r.rename != "_").then(|| r.rename.to_string());
            out.push((bound, path, line_of(&r.ident)));
        }
        UseTree::Glob(g) => {
            let mut path = prefix.clone();
            path.push("*".into());
            out.push((None, path, g.star_token.span.start().line));
        }
        UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

impl Scanner {
    fn new(module: Vec<String>) -> Self {
        Scanner { module, scopes: Vec::new(), edges: Vec::new() }
    }

    /// The names a list of items brings into scope (test-only items excluded).
    fn scope_of<'a>(&self, items: impl IntoIterator<Item = &'a Item>) -> HashMap<String, Target> {
        let mut scope = HashMap::new();
        for item in items {
            match item {
                Item::Use(u) if !is_test_only(&u.attrs) => {
                    let mut leaves = Vec::new();
                    use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
                    for (bound, segments, _) in leaves {
                        if let Some(name) = bound {
                            scope.insert(name, Target { absolute: u.leading_colon.is_some(), segments });
                        }
                    }
                }
                Item::Mod(m) if !is_test_only(&m.attrs) => {
                    let mut segments = self.module.clone();
                    segments.push(m.ident.to_string());
                    scope.insert(m.ident.to_string(), Target { absolute: true, segments });
                }
                Item::ExternCrate(e) if !is_test_only(&e.attrs) && e.ident != "self" => {
                    let name = e.rename.as_ref().map_or(&e.ident, |(_, r)| r).to_string();
                    scope.insert(name, Target { absolute: true, segments: vec![e.ident.to_string()] });
                }
                _ => {}
            }
        }
        scope
    }

    /// Makes a written path absolute: `crate::…`, `std::…`, `reqwest::…`.
    fn resolve(&self, absolute: bool, segments: Vec<String>, depth: usize) -> Vec<String> {
        if absolute || depth > 8 || segments.is_empty() {
            return segments;
        }
        let rest = |n: usize| segments[n..].iter().cloned();
        match segments[0].as_str() {
            "crate" | "Self" => segments,
            // The library seen from the binary (`src/main.rs`) is this crate.
            "baton" => std::iter::once("crate".to_string()).chain(rest(1)).collect(),
            "self" => self.module.iter().cloned().chain(rest(1)).collect(),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let keep = self.module.len().saturating_sub(ups).max(1);
                self.module[..keep].iter().cloned().chain(rest(ups)).collect()
            }
            first => {
                let Some(target) = self.scopes.iter().rev().find_map(|s| s.get(first)) else {
                    return segments;
                };
                // `use reqwest;` binds the crate to its own name: nothing further to resolve.
                if !target.absolute && target.segments.len() == 1 && target.segments[0] == first {
                    return segments;
                }
                let joined = target.segments.iter().cloned().chain(rest(1)).collect();
                self.resolve(target.absolute, joined, depth + 1)
            }
        }
    }

    fn record(&mut self, absolute: bool, segments: Vec<String>, line: usize) {
        let path = self.resolve(absolute, segments, 0);
        self.edges.push(Edge { path, line });
    }

    fn items(&mut self, items: &[Item]) {
        let scope = self.scope_of(items);
        self.scopes.push(scope);
        for item in items {
            self.visit_item(item);
        }
        self.scopes.pop();
    }
}

impl<'ast> Visit<'ast> for Scanner {
    fn visit_item(&mut self, item: &'ast Item) {
        let attrs = match item {
            Item::Const(i) => &i.attrs,
            Item::Enum(i) => &i.attrs,
            Item::ExternCrate(i) => &i.attrs,
            Item::Fn(i) => &i.attrs,
            Item::ForeignMod(i) => &i.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Macro(i) => &i.attrs,
            Item::Mod(i) => &i.attrs,
            Item::Static(i) => &i.attrs,
            Item::Struct(i) => &i.attrs,
            Item::Trait(i) => &i.attrs,
            Item::TraitAlias(i) => &i.attrs,
            Item::Type(i) => &i.attrs,
            Item::Union(i) => &i.attrs,
            Item::Use(i) => &i.attrs,
            _ => return,
        };
        if is_test_only(attrs) {
            return;
        }
        visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        for a in &m.attrs {
            self.visit_attribute(a);
        }
        if let Some((_, items)) = &m.content {
            self.module.push(m.ident.to_string());
            self.items(items);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
        for (_, segments, line) in leaves {
            self.record(u.leading_colon.is_some(), segments, line);
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let items = block.stmts.iter().filter_map(|s| match s {
            syn::Stmt::Item(i) => Some(i),
            _ => None,
        });
        let scope = self.scope_of(items);
        self.scopes.push(scope);
        visit::visit_block(self, block);
        self.scopes.pop();
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return,
        };
        if !is_test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        let attrs = match item {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => return,
        };
        if !is_test_only(attrs) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if !is_test_only(&local.attrs) {
            visit::visit_local(self, local);
        }
    }

    fn visit_field(&mut self, field: &'ast syn::Field) {
        if !is_test_only(&field.attrs) {
            visit::visit_field(self, field);
        }
    }

    fn visit_variant(&mut self, variant: &'ast syn::Variant) {
        if !is_test_only(&variant.attrs) {
            visit::visit_variant(self, variant);
        }
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        if !is_test_only(&arm.attrs) {
            visit::visit_arm(self, arm);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.record(path.leading_colon.is_some(), segments, line_of(&first.ident));
        }
        visit::visit_path(self, path);
    }

    fn visit_attribute(&mut self, attr: &'ast Attribute) {
        // `#[derive(clap::Parser)]`: the derive list is tokens to syn; read it as paths.
        if attr.path().is_ident("derive")
            && let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        {
            for p in &paths {
                self.visit_path(p);
            }
        }
        visit::visit_attribute(self, attr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `println!("{:?}", std::env::var("X"))`: arguments that parse as expressions count.
        if let Ok(args) = mac.parse_body_with(Punctuated::<syn::Expr, Token![,]>::parse_terminated) {
            for e in &args {
                self.visit_expr(e);
            }
        }
        visit::visit_macro(self, mac);
    }
}

/// The resolved edges of one file, which lives at module path `module`.
fn edges(module: &[&str], text: &str) -> Vec<Edge> {
    let file = syn::parse_file(text).unwrap_or_else(|e| panic!("cannot parse {module:?}: {e}"));
    let mut scanner = Scanner::new(module.iter().map(|s| s.to_string()).collect());
    for a in &file.attrs {
        scanner.visit_attribute(a);
    }
    scanner.items(&file.items);
    scanner.edges
}

/// One file of the module tree.
struct SourceFile {
    /// Path relative to the crate root, `/`-separated.
    rel: String,
    /// Module path, `crate::…`.
    module: Vec<String>,
    /// Declared by a `#[cfg(test)] mod` (or inside one).
    test_only: bool,
    text: String,
}

/// The `mod x;` declarations of `items` (inline modules followed), with their files.
fn declared(items: &[Item], module: &[String], dir: &Path, test_only: bool, out: &mut Vec<SourceFile>) {
    for item in items {
        let Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let test_only = test_only || is_test_only(&m.attrs);
        let mut module = module.to_vec();
        module.push(name.clone());
        if let Some((_, inner)) = &m.content {
            declared(inner, &module, &dir.join(&name), test_only, out);
            continue;
        }
        let explicit = m.attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(dir.join(s.value())),
                _ => None,
            },
            _ => None,
        });
        let file = explicit.unwrap_or_else(|| {
            let flat = dir.join(format!("{name}.rs"));
            if flat.is_file() { flat } else { dir.join(&name).join("mod.rs") }
        });
        let child_dir = if file.file_name().is_some_and(|n| n == "mod.rs") {
            file.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            dir.join(&name)
        };
        walk(&file, module, &child_dir, test_only, out);
    }
}

fn walk(file: &Path, module: Vec<String>, child_dir: &Path, test_only: bool, out: &mut Vec<SourceFile>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
    declared(&parsed.items, &module, child_dir, test_only, out);
    out.push(SourceFile { rel: String::new(), module, test_only, text });
    let last = out.len() - 1;
    out[last].rel = file.to_string_lossy().replace('\\', "/");
}

/// Every file of the crate rooted at `root` (its `src/lib.rs` and `src/main.rs`).
fn crate_files(root: &Path) -> Vec<SourceFile> {
    let src = root.join("src");
    let mut out = Vec::new();
    for entry in ["lib.rs", "main.rs"] {
        if src.join(entry).is_file() {
            walk(&src.join(entry), vec!["crate".into()], &src, false, &mut out);
        }
    }
    let prefix = format!("{}/", root.to_string_lossy().replace('\\', "/"));
    for f in &mut out {
        f.rel = f.rel.strip_prefix(&prefix).unwrap_or(&f.rel).to_string();
    }
    out
}

/// A boundary: files it covers may not reach the banned paths.
struct Rule {
    what: &'static str,
    covers: fn(&str) -> bool,
    banned: &'static [&'static str],
}

const NETWORK: Rule =
    Rule { what: "only src/http.rs may use reqwest", covers: |f| f != "src/http.rs", banned: &["reqwest"] };

const MODEL: Rule = Rule {
    what: "src/model/ imports no I/O or framework crate",
    covers: |f| f.starts_with("src/model/"),
    banned: &["reqwest", "minijinja", "tokio", "clap", "std::fs"],
};

const REPORTS: Rule = Rule {
    what: "src/report/ never uses the HTTP client or the executor",
    covers: |f| f.starts_with("src/report/"),
    banned: &["crate::http", "crate::exec"],
};

const EDGES: Rule = Rule {
    what: "only src/main.rs and src/cli.rs read argv and the environment",
    covers: |f| f != "src/main.rs" && f != "src/cli.rs",
    banned: &[
        "std::env::var",
        "std::env::var_os",
        "std::env::vars",
        "std::env::vars_os",
        "std::env::args",
        "std::env::args_os",
    ],
};

const AFTER_VALIDATION: Rule = Rule {
    what: "what runs after validation reads compiled steps, never the authored YAML or collection",
    covers: |f| {
        f.starts_with("src/exec/")
            || f.starts_with("src/report/")
            || ["src/resolve.rs", "src/assert.rs", "src/capture.rs", "src/select.rs", "src/app/plan_view.rs"]
                .contains(&f)
    },
    banned: &[
        "crate::yaml",
        "crate::parse",
        "crate::recipe",
        "crate::model::Collection",
        "crate::model::Defaults",
    ],
};

/// Whether `edge` reaches `banned`: it starts with it, or is a glob import that covers it.
fn reaches(edge: &[String], banned: &str) -> bool {
    let banned: Vec<&str> = banned.split("::").collect();
    let starts = edge.len() >= banned.len() && edge.iter().zip(&banned).all(|(a, b)| a == b);
    let glob = edge.last().is_some_and(|s| s == "*")
        && edge.len() - 1 <= banned.len()
        && edge[..edge.len() - 1].iter().zip(&banned).all(|(a, b)| a == b);
    starts || glob
}

/// `file:line: path` for every edge of `text` (file `rel`, module `module`) that breaks `rule`.
fn check(rule: &Rule, rel: &str, module: &[&str], text: &str) -> Vec<String> {
    if !(rule.covers)(rel) {
        return Vec::new();
    }
    edges(module, text)
        .into_iter()
        .filter(|e| rule.banned.iter().any(|b| reaches(&e.path, b)))
        .map(|e| format!("{rel}:{}: {}", e.line, e.path.join("::")))
        .collect()
}

fn check_crate(rule: &Rule, root: &Path) -> Vec<String> {
    crate_files(root)
        .iter()
        .filter(|f| !f.test_only)
        .flat_map(|f| {
            let module: Vec<&str> = f.module.iter().map(String::as_str).collect();
            check(rule, &f.rel, &module, &f.text)
        })
        .collect()
}

fn assert_holds(rule: &Rule) {
    let root = crate::support::root();
    let files = crate_files(&root);
    assert!(files.iter().filter(|f| !f.test_only).count() > 10, "found the sources");
    let broken = check_crate(rule, &root);
    assert!(broken.is_empty(), "{}:\n{}", rule.what, broken.join("\n"));
}

#[test]
fn only_http_touches_the_network_client() {
    assert_holds(&NETWORK);
}

#[test]
fn model_imports_no_io_or_framework_crates() {
    assert_holds(&MODEL);
}

#[test]
fn reports_never_import_http_or_exec() {
    assert_holds(&REPORTS);
}

#[test]
fn only_the_edges_read_argv_and_the_environment() {
    assert_holds(&EDGES);
}

#[test]
fn nothing_after_validation_reads_the_yaml_tree() {
    assert_holds(&AFTER_VALIDATION);
    // The rule can fail: an executor file reaching for the tree breaks it.
    let broken = check(&AFTER_VALIDATION, "src/exec/step.rs", &["exec", "step"], "use crate::yaml::Node;");
    assert_eq!(broken, ["src/exec/step.rs:1: crate::yaml::Node"]);
}

#[test]
fn module_tree_marks_cfg_test_files_and_finds_the_real_modules() {
    let files = crate_files(&crate::support::root());
    let find = |rel: &str| files.iter().find(|f| f.rel == rel);
    let http = find("src/http.rs").expect("src/http.rs is in the tree");
    assert_eq!(http.module, ["crate", "http"]);
    assert!(!http.test_only);
    // The exempt edges are real: checked as any other file, they would break the rules.
    let as_other = |f: &SourceFile, rule: &Rule| {
        let module: Vec<&str> = f.module.iter().map(String::as_str).collect();
        check(rule, "src/elsewhere.rs", &module, &f.text)
    };
    assert!(!as_other(http, &NETWORK).is_empty(), "src/http.rs uses reqwest");
    let main = find("src/main.rs").expect("src/main.rs is in the tree");
    assert!(!as_other(main, &EDGES).is_empty(), "src/main.rs reads argv and the environment");
}

mod checker {
    //! The checker itself, on in-memory snippets: each rule must be able to fail.

    use super::{EDGES, MODEL, NETWORK, REPORTS, check, check_crate};

    fn env_violations(text: &str) -> Vec<String> {
        check(&EDGES, "src/other.rs", &["crate", "other"], text)
    }

    #[test]
    fn sees_env_var_through_a_module_alias() {
        let found = env_violations("use std::env; fn f() { env::var(\"X\"); }");
        assert_eq!(found, ["src/other.rs:1: std::env::var"]);
    }

    #[test]
    fn sees_through_groups_renames_and_self() {
        let found = env_violations("use std::{env as e, fs}; fn f() { e::args(); }");
        assert_eq!(found, ["src/other.rs:1: std::env::args"]);
        let found = env_violations("use std::env::{self as environment}; fn f() { environment::vars(); }");
        assert_eq!(found, ["src/other.rs:1: std::env::vars"]);
        let found = env_violations("use std::env::{var as read}; fn f() { read(\"X\"); }");
        assert_eq!(found.len(), 2, "the import and the call: {found:?}");
    }

    #[test]
    fn a_glob_import_of_the_env_module_counts() {
        let found = env_violations("use std::env::*;\nfn f() { var(\"X\"); }");
        assert_eq!(found, ["src/other.rs:1: std::env::*"]);
    }

    #[test]
    fn fully_qualified_calls_and_macro_arguments_count() {
        let found = env_violations("fn f() {\n    println!(\"{:?}\", ::std::env::var_os(\"X\"));\n}");
        assert_eq!(found, ["src/other.rs:2: std::env::var_os"]);
    }

    #[test]
    fn imports_inside_a_function_body_are_scoped_to_it() {
        let text = "fn f() { use std::env as e; e::args_os(); }\nfn g(e: Env) { e::args_os(); }";
        let found = env_violations(text);
        assert_eq!(found, ["src/other.rs:1: std::env::args_os"], "only f's call resolves");
    }

    #[test]
    fn comments_strings_and_other_env_functions_do_not_count() {
        let text = "// std::env::var\n/// env::var(\"X\")\nfn f() -> &'static str { let _ = std::env::current_dir(); \"std::env::var\" }";
        assert!(env_violations(text).is_empty());
    }

    #[test]
    fn cfg_test_items_are_skipped_by_attribute_but_cfg_not_test_is_not() {
        let tests = "#[cfg(test)]\nmod tests { use std::env; fn f() { env::var(\"X\"); } }";
        assert!(env_violations(tests).is_empty());
        let helper = "#[cfg(all(test, unix))]\nfn helper() { std::env::var(\"X\"); }";
        assert!(env_violations(helper).is_empty());
        let production = "#[cfg(not(test))]\nfn f() { std::env::var(\"X\"); }";
        assert_eq!(env_violations(production), ["src/other.rs:2: std::env::var"]);
        // A test-only import does not hide a production call behind its alias.
        let split = "#[cfg(test)]\nuse std::env as e;\nfn f() { std::env::args(); }";
        assert_eq!(env_violations(split), ["src/other.rs:3: std::env::args"]);
    }

    #[test]
    fn only_the_http_module_may_name_reqwest() {
        let text = "use reqwest::header::{self as h};\nfn f(_: h::HeaderName) {}";
        assert_eq!(check(&NETWORK, "src/exec.rs", &["crate", "exec"], text).len(), 2);
        assert!(check(&NETWORK, "src/http.rs", &["crate", "http"], text).is_empty());
        let derive = "#[derive(reqwest::Magic)]\nstruct S;";
        assert_eq!(
            check(&NETWORK, "src/exec.rs", &["crate", "exec"], derive),
            ["src/exec.rs:1: reqwest::Magic"]
        );
    }

    #[test]
    fn reports_reach_the_executor_through_super_and_crate_aliases() {
        let at = |text: &str| check(&REPORTS, "src/report/json.rs", &["crate", "report", "json"], text);
        assert_eq!(at("use super::super::exec::Outcome;"), ["src/report/json.rs:1: crate::exec::Outcome"]);
        assert_eq!(at("use crate::{http as net};\nfn f() { net::send(); }").len(), 2);
        assert_eq!(
            at("fn f() -> baton::exec::Outcome { todo() }"),
            ["src/report/json.rs:1: crate::exec::Outcome"]
        );
        assert!(at("use super::terminal; use crate::exchange::Exchange;").is_empty());
    }

    #[test]
    fn model_may_not_touch_the_file_system() {
        let text = "use std::fs as files;\nfn f() { let _ = files::read(\"x\"); }";
        assert_eq!(check(&MODEL, "src/model/mod.rs", &["crate", "model"], text).len(), 2);
        assert!(check(&MODEL, "src/model/mod.rs", &["crate", "model"], "use std::path::Path;").is_empty());
    }

    #[test]
    fn files_declared_by_a_cfg_test_mod_are_skipped() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("outer")).expect("mkdir");
        std::fs::write(src.join("lib.rs"), "mod outer;\n#[cfg(test)]\nmod helpers;\n").expect("write");
        std::fs::write(src.join("helpers.rs"), "fn f() { std::env::var(\"X\"); }").expect("write");
        std::fs::write(src.join("outer.rs"), "mod inner;").expect("write");
        std::fs::write(src.join("outer/inner.rs"), "use super::super::x;\nfn f() { std::env::args(); }")
            .expect("write");
        let found = check_crate(&EDGES, dir.path());
        assert_eq!(found, ["src/outer/inner.rs:2: std::env::args"]);
    }
}

#[test]
fn the_playground_crate_does_not_depend_on_baton() {
    let manifest = crate::support::root().join("crates/playground/Cargo.toml");
    let manifest = std::fs::read_to_string(manifest).expect("read the playground's Cargo.toml");
    let mut names = manifest.lines().filter_map(|l| l.split_once('=')).map(|(name, _)| name.trim());
    let depends = names.any(|name| name == "baton") || manifest.contains("dependencies.baton]");
    assert!(!depends, "crates/playground must not depend on baton");
}
