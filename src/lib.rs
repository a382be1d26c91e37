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

pub mod assert;
pub mod atomic;
pub mod capture;
pub mod cli;
pub mod diagnostic;
pub mod event;
pub mod exchange;
pub mod exec;
pub mod exit;
pub mod http;
pub mod load;
pub mod model;
pub mod parse;
pub mod plan;
pub mod playground;
pub mod recipe;
pub mod report;
pub mod resolve;
pub mod secret;
pub mod select;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod template;
pub mod validate;
pub mod yaml;

mod app;
#[cfg(test)]
mod testing;

pub use app::run;
