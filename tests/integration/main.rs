//! baton's integration tests: one binary, the real `baton` executable, and the
//! playground served in-process on 127.0.0.1:0. Nothing leaves loopback.

mod support;

mod architecture;
mod assertions;
mod auth;
mod authorize;
mod ci;
mod cli;
mod data_rows;
mod format;
mod hostile;
mod import;
mod invalid;
mod lifecycle;
mod local_files;
mod robustness;
mod run;
mod snapshots_feature;
mod verdicts;
