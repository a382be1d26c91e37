//! Orchestration: command line → load → check → plan/run → report → exit code.
//!
//! `run` dispatches; `collections` loads, checks and runs collection files;
//! `serve` hosts the playground (`baton playground`, `baton demo`, with the
//! `playground` feature); `state` answers `baton state`; `plan_view` renders `baton plan`.

mod collections;
mod import_cmd;
mod init;
mod passes;
mod plan_view;
#[cfg(feature = "playground")]
mod serve;
mod state_cmd;

use collections::run_collections;
#[cfg(feature = "playground")]
use serve::{demo, serve_playground};
use state_cmd::state_command;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;

use crate::cli::{self, Invocation};
use crate::exit::Exit;
use crate::secret::Masker;

/// Runs baton with `args` (program name first) and the process environment.
pub fn run(args: Vec<OsString>, env: HashMap<String, String>) -> Exit {
    match cli::parse(args, env) {
        Ok(Invocation::Print(text)) => {
            let _ = write!(anstream::stdout(), "{text}");
            Exit::Passed
        }
        #[cfg(feature = "playground")]
        Ok(Invocation::Playground { port, tls }) => serve_playground(port, tls.as_deref()),
        Ok(Invocation::Collections(opts)) => run_collections(&opts),
        #[cfg(feature = "playground")]
        Ok(Invocation::Demo(opts)) => demo(opts),
        Ok(Invocation::State { action, location }) => state_command(action, &location),
        Ok(Invocation::Init { dir, example }) => init::init(&dir, example.as_deref()),
        Ok(Invocation::Import { kind, sources, out, strict, env }) => {
            import_cmd::import(kind, &sources, &out, strict, env)
        }
        Err(cli::CliError::Usage(u)) => {
            eprint(&u.diagnostic.render(&u.sources, true), &Masker::default());
            u.diagnostic.exit
        }
        Err(cli::CliError::Clap(text)) => {
            let _ = write!(anstream::stderr(), "{text}");
            Exit::Usage
        }
    }
}

/// The run's secrets, for the panic hook (set once, when collections are loaded).
static PANIC_MASKER: std::sync::OnceLock<Masker> = std::sync::OnceLock::new();

/// Replaces the default panic message (which could print a secret, and reads as a crash
/// of the user's collection) with one masked line that says it is a bug in baton.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let what = panic_text(info.payload());
        let text = format!("error[internal]: baton hit a bug{at}: {what}");
        let masked = PANIC_MASKER.get().map_or_else(|| text.clone(), |m| m.mask(&text));
        let _ = writeln!(std::io::stderr(), "{}", crate::printable::line(&masked));
    }));
}

/// A panic's message, whichever way it was raised.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

fn eprint(text: &str, masker: &Masker) {
    let _ = writeln!(anstream::stderr(), "{}", masker.mask(text.trim_end()));
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}
