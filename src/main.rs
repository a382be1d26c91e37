//! The `baton` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    baton::install_panic_hook();
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    baton::run(std::env::args_os().collect(), env).into()
}
