//! Reports: sinks of executor events. They never import the HTTP client or the executor.
//!
//! Every byte a report writes passes through the run's [`crate::secret::Masker`].

pub mod terminal;

pub use terminal::Terminal;
