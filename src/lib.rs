//! baton runs API requests declared in YAML.
//!
//! A collection holds variables, auth steps and requests. baton loads and checks it
//! completely before sending anything, then runs the steps in order, hands captured
//! values down the chain and checks expectations.
//!
//! The pipeline runs one way, each stage producing a new type:
//! `load → yaml → parse (model) → validate (plan) → exec (events) → report → exit code`.
//!
//! ```no_run
//! let code = baton::run(vec!["baton".into(), "validate".into(), "collections/".into()], Default::default());
//! assert_eq!(code, baton::exit::Exit::Passed);
//! ```

mod assert;
mod atomic;
mod capture;
mod cli;
mod cookies;
mod data;
mod diagnostic;
mod env_file;
mod event;
mod examples;
mod exchange;
mod exec;
pub mod exit;
mod functions;
mod http;
mod import;
mod json_select;
mod load;
mod model;
mod parse;
mod plan;
mod printable;
mod recipe;
mod report;
mod resolve;
mod schema;
mod secret;
mod select;
mod signing;
mod snapshot;
mod source;
mod state;
mod template;
mod tls;
mod validate;
mod yaml;

mod app;
#[cfg(test)]
mod testing;

pub use app::{install_panic_hook, run};
