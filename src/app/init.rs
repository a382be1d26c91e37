//! `baton init [DIR] [--example NAME]`: a starting point that runs.

use std::path::Path;

use crate::exit::Exit;

/// The starter collection: log in to the playground's demo app, then use the token.
const STARTER: &str = r#"# A first collection: log in, then call the API with the token.
# Try it against the built-in playground: `baton playground` in one terminal, then
#   baton run api.yaml                 (or: baton run api.yaml --env local)
name: My API
description: Logs in and reads the signed-in user.
vars:
  base_url: "{{ env('BATON_BASE_URL', default='http://127.0.0.1:8080') }}"
  username: demo
  # Secrets come from the environment or .env (see .env.example), never from this file.
  password: "{{ secret_env('API_PASSWORD', default='demo-password-7f3a') }}"

auth:
  - name: log in
    method: POST
    url: "{{ base_url }}/demo/login"
    form: {username: "{{ username }}", password: "{{ password }}"}
    capture:
      token: $.access_token
    expect:
      json: {$.token_type: Bearer}

defaults:
  bearer: "{{ token }}"

requests:
  - name: who am I
    url: "{{ base_url }}/demo/me"
    expect:
      status: 200
      json: {$.username: "{{ username }}"}
"#;

const ENVIRONMENT: &str = "# `baton run api.yaml --env local`: these vars win over the collection's.\nvars:\n  base_url: http://127.0.0.1:8080\n";

const ENV_EXAMPLE: &str =
    "# Copy to .env and fill in; pass with `--env-file .env` (never commit .env).\nAPI_PASSWORD=\n";

const GITIGNORE: &str = "# Secrets, and a state file if you keep one here (`--state .baton-state.json`)\n.env\n.baton-state.json\n";

/// Writes the starter (or a built-in example) into `dir`, never over an existing file.
pub(super) fn init(dir: &Path, example: Option<&str>) -> Exit {
    let say = |text: &str| super::eprint(text, &crate::secret::Masker::default());
    if let Some(name) = example {
        return match crate::examples::write_example(name, dir) {
            Ok(written) => {
                for p in &written {
                    println!("wrote {}", p.display());
                }
                Exit::Passed
            }
            Err(e) => {
                say(&format!("error: {e}"));
                Exit::Usage
            }
        };
    }
    let files = [
        ("api.yaml", STARTER),
        ("environments/local.yaml", ENVIRONMENT),
        (".env.example", ENV_EXAMPLE),
        (".gitignore", GITIGNORE),
    ];
    if let Some((name, _)) = files.iter().find(|(name, _)| dir.join(name).exists()) {
        say(&format!(
            "error: `{}` exists already; baton init writes nothing over existing files",
            dir.join(name).display()
        ));
        return Exit::Usage;
    }
    for (name, text) in files {
        let path = dir.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::atomic::write(&path, text.as_bytes(), false));
        if let Err(e) = written {
            say(&format!("error: cannot write `{}`: {e}", path.display()));
            return Exit::Runtime;
        }
        println!("wrote {}", path.display());
    }
    println!(
        "\nnext: baton validate {0}/api.yaml, then baton run {0}/api.yaml (with `baton playground` running)",
        dir.display()
    );
    Exit::Passed
}
