//! curl command lines and shell scripts of curl calls: each `curl …` (continued lines
//! joined, a pipe or `&&` ending it) becomes a step; `$VAR` and `${VAR}` become variables
//! read from the environment (`secret_env()` when the name reads as a secret).

use serde_json::Value as Json;

use super::{Draft, DraftAuth, DraftBody, DraftStep};

/// Whether `text` ends inside a quoted string (shell quoting: nothing escapes in `'…'`,
/// a backslash escapes in `"…"` and outside).
/// The shell quote open after `text`, when `quote` was open before it (read a line at a
/// time, so a long quoted body is scanned once).
fn quote_after(mut quote: Option<char>, text: &str) -> Option<char> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"') | None, '\\') => {
                chars.next();
            }
            (None, '\'' | '"') => quote = Some(c),
            _ => {}
        }
    }
    quote
}

/// The commands of a script: `(line, words)`, each starting with `curl`, or why a curl
/// command could not be read.
fn commands(text: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
    let mut out = Vec::new();
    let mut joined = String::new();
    // The quote open at the end of `joined`.
    let mut quote = None;
    // Whether `joined` holds `curl` (a quote open elsewhere ends at the line's end).
    let mut has_curl = false;
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if joined.is_empty() {
            start = i + 1;
            // A comment line, whatever quotes it holds (`# here's how`), is no command.
            if line.trim_start().starts_with('#') {
                continue;
            }
        }
        let after = quote_after(quote, line);
        if let Some(cont) = line.strip_suffix('\\')
            && after.is_none()
        {
            joined.push_str(cont);
            joined.push(' ');
            quote = None;
            has_curl |= line.contains("curl");
            continue;
        }
        joined.push_str(line);
        quote = after;
        has_curl |= line.contains("curl");
        // A quoted body over several lines (`-d '{` … `}'`) goes on.
        if quote.is_some() && has_curl {
            joined.push('\n');
            continue;
        }
        quote = None;
        has_curl = false;
        let command = std::mem::take(&mut joined);
        let trimmed = command.trim_start().trim_start_matches("$ ").trim_start();
        if trimmed.starts_with('#') {
            continue;
        }
        let Some(at) = trimmed
            .find("curl ")
            .filter(|&p| p == 0 || trimmed[..p].trim().is_empty() || trimmed[..p].ends_with("=$("))
        else {
            continue;
        };
        let Some(words) = shlex::split(&trimmed[at..]) else {
            out.push((start, Err("its quoting could not be read".to_string())));
            continue;
        };
        let words: Vec<String> = words
            .into_iter()
            .take_while(|w| !matches!(w.as_str(), "|" | "||" | "&&" | ";" | ">" | ">>" | ")"))
            .collect();
        out.push((start, Ok(words)));
    }
    if !joined.trim().is_empty() && joined.contains("curl") {
        out.push((start, Err("a quote is never closed".to_string())));
    }
    out
}

/// Whether a `-d` value reads as form fields (`a=1&b=two`), not free text.
fn looks_like_form(text: &str) -> bool {
    !text.is_empty()
        && text.split('&').all(|pair| {
            pair.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]%{} ".contains(c))
            })
        })
}

/// `$NAME` / `${NAME}` as baton templates; each name is recorded in `env`.
fn env_refs(text: &str, env: &mut Vec<String>) -> String {
    static VAR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)").expect("re")
    });
    VAR.replace_all(text, |c: &regex::Captures<'_>| {
        let name = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str()).to_string();
        let var = name.to_ascii_lowercase();
        if !env.contains(&name) {
            env.push(name);
        }
        format!("{{{{ {var} }}}}")
    })
    .into_owned()
}

/// The draft of a script (`name` from the file).
pub fn script(text: &str, name: &str, file: &str) -> Draft {
    let mut d = Draft { name: name.to_string(), ..Draft::default() };
    let mut env = Vec::new();
    for (line, words) in commands(text) {
        let origin = format!("{file}:{line}");
        let words = match words {
            Ok(w) => w,
            Err(why) => {
                d.skipped.push((origin, format!("a curl command: {why}")));
                continue;
            }
        };
        let mut s = step(&words, &mut env);
        let bare = s.url.trim().trim_start_matches("https://").trim_start_matches("http://");
        if bare.is_empty() {
            d.skipped.push((origin, "a curl command without a URL".into()));
            continue;
        }
        s.origin = origin;
        s.name = super::short_name(d.requests.len() + 1, &s.method, &s.url);
        d.requests.push(s);
    }
    for name in env {
        let var = name.to_ascii_lowercase();
        d.vars.push((var.clone(), super::env_default(&var, &name, &d.requests)));
    }
    d
}

fn step(words: &[String], env: &mut Vec<String>) -> DraftStep {
    let mut s = DraftStep::default();
    let mut method: Option<String> = None;
    let mut data: Vec<String> = Vec::new();
    let mut urlencoded: Vec<String> = Vec::new();
    let mut json_flag = false;
    let mut get = false;
    let mut parts = Vec::new();
    let mut url = String::new();
    let mut i = 1;
    let value = |i: &mut usize| -> String {
        *i += 1;
        words.get(*i).cloned().unwrap_or_default()
    };
    while i < words.len() {
        let w = words[i].clone();
        // `--opt=value` and `-Xvalue`.
        let (opt, inline) = match w.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
            _ if w.starts_with('-')
                && !w.starts_with("--")
                && w.len() > 2
                && "XHdFuAeb".contains(&w[1..2]) =>
            {
                (w[..2].to_string(), Some(w[2..].to_string()))
            }
            _ => (w.clone(), None),
        };
        let arg = |i: &mut usize| inline.clone().unwrap_or_else(|| value(i));
        match opt.as_str() {
            "-X" | "--request" => method = Some(arg(&mut i).to_ascii_uppercase()),
            "-H" | "--header" => {
                let h = arg(&mut i);
                if let Some((k, v)) = h.split_once(':') {
                    s.headers.push((k.trim().to_string(), env_refs(v.trim(), env)));
                }
            }
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-ascii" => data.push(arg(&mut i)),
            "--data-urlencode" => urlencoded.push(arg(&mut i)),
            "--json" => {
                json_flag = true;
                data.push(arg(&mut i));
            }
            "-F" | "--form" => parts.push(arg(&mut i)),
            "-u" | "--user" => {
                let cred = env_refs(&arg(&mut i), env);
                let (u, p) = cred
                    .split_once(':')
                    .map_or((cred.clone(), String::new()), |(u, p)| (u.to_string(), p.to_string()));
                s.auth = Some(DraftAuth::Basic(u, p));
            }
            "-A" | "--user-agent" => {
                let ua = arg(&mut i);
                s.headers.push(("User-Agent".into(), env_refs(&ua, env)));
            }
            "-e" | "--referer" => {
                let r = arg(&mut i);
                s.headers.push(("Referer".into(), env_refs(&r, env)));
            }
            "-b" | "--cookie" => {
                let c = arg(&mut i);
                s.headers.push(("Cookie".into(), env_refs(&c, env)));
            }
            "--url" => url = env_refs(&arg(&mut i), env),
            "-G" | "--get" => get = true,
            "-I" | "--head" => method = Some("HEAD".into()),
            "-L" | "--location" | "-s" | "--silent" | "-S" | "--show-error" | "-v" | "--verbose" | "-i"
            | "--include" | "--compressed" | "-f" | "--fail" | "--fail-with-body" | "-sS" | "-sSL"
            | "-Ls" | "-fsSL" | "-sL" | "-k" | "--insecure" | "-g" | "--globoff" => {
                if matches!(opt.as_str(), "-k" | "--insecure") {
                    s.untranslated
                        .push("`--insecure`: add `tls: {insecure: true}` to the step if you mean it".into());
                }
            }
            "-o" | "--output" | "-w" | "--write-out" | "--max-time" | "-m" | "--connect-timeout"
            | "--retry" => {
                let v = arg(&mut i);
                if matches!(opt.as_str(), "--max-time" | "-m") {
                    s.changes.push(format!("`{opt} {v}` is baton's `timeout`; the default (30 s) applies"));
                }
            }
            _ if w.starts_with('-') => s.untranslated.push(format!("curl option `{w}`")),
            _ => {
                if url.is_empty() {
                    url = env_refs(&w, env);
                }
            }
        }
        i += 1;
    }
    s.url = if url.contains("://") || url.starts_with("{{") { url } else { format!("http://{url}") };
    let content_type = s
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase());
    if get && (!data.is_empty() || !urlencoded.is_empty()) {
        // `-G`: the data is the query.
        let mut query: Vec<String> = data.drain(..).map(|d| env_refs(&d, env)).collect();
        for u in urlencoded.drain(..) {
            let (k, v) = u.split_once('=').unwrap_or(("", &u));
            let v: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
            query.push(if k.is_empty() { v } else { format!("{k}={v}") });
        }
        let sep = if s.url.contains('?') { '&' } else { '?' };
        s.url = format!("{}{sep}{}", s.url, query.join("&"));
    }
    if !parts.is_empty() {
        let fields = parts
            .iter()
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some(match v.strip_prefix('@') {
                    Some(path) => (k.to_string(), path.split(';').next().unwrap_or(path).to_string(), true),
                    None => (k.to_string(), env_refs(v, env), false),
                })
            })
            .collect();
        s.body = Some(DraftBody::Multipart(fields));
    } else if !data.is_empty() || !urlencoded.is_empty() {
        let text = env_refs(&data.join("&"), env);
        if let Some(path) = text.strip_prefix('@') {
            s.body = Some(DraftBody::File(path.to_string()));
        } else if json_flag || content_type.as_deref().is_some_and(|c| c.contains("json")) {
            match serde_json::from_str::<Json>(&text) {
                Ok(v) => {
                    s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                    s.body = Some(DraftBody::Json(v));
                }
                Err(_) => s.body = Some(DraftBody::Raw(text, Some("application/json".into()))),
            }
        } else if content_type.is_none()
            && urlencoded.is_empty()
            && let Ok(v @ (Json::Object(_) | Json::Array(_))) = serde_json::from_str::<Json>(&text)
        {
            // JSON sent without a content type: what the API reads (curl would label it
            // a form).
            s.changes
                .push("a JSON body sent without `Content-Type` is sent as JSON (`application/json`)".into());
            s.body = Some(DraftBody::Json(v));
        } else if (content_type.is_none()
            || content_type.as_deref() == Some("application/x-www-form-urlencoded"))
            && (!urlencoded.is_empty() || looks_like_form(&text))
        {
            let mut fields: Vec<(String, String)> =
                form_urlencoded::parse(text.as_bytes()).into_owned().collect();
            for u in &urlencoded {
                let (k, v) = u.split_once('=').unwrap_or(("", u));
                fields.push((k.to_string(), env_refs(v, env)));
            }
            s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            s.body = Some(DraftBody::Form(fields));
        } else {
            // Text as it is; curl labels it a form unless told otherwise.
            let ct = content_type.is_none().then(|| "application/x-www-form-urlencoded".to_string());
            s.body = Some(DraftBody::Raw(text, ct));
        }
    }
    s.method = method.unwrap_or_else(|| if s.body.is_some() { "POST".into() } else { "GET".into() });
    super::bearer_from_header(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_of_curl_calls_becomes_steps_with_env_variables() {
        let text = "#!/bin/sh\n# create\ncurl -s -X POST \"$BASE/users\" \\\n  -H 'Content-Type: application/json' \\\n  -H \"Authorization: Bearer $API_TOKEN\" \\\n  -d '{\"name\": \"ann\"}' | jq .\ncurl -u admin:$ADMIN_PASSWORD \"$BASE/admin?x=1\" --data-urlencode 'q=a b' -G\ncurl -F name=x -F file=@photo.png https://example.test/upload --frobnicate\n";
        let d = script(text, "api", "api.sh");
        assert_eq!(d.requests.len(), 3);
        let first = &d.requests[0];
        assert_eq!((first.method.as_str(), first.url.as_str()), ("POST", "{{ base }}/users"));
        assert!(matches!(&first.auth, Some(DraftAuth::Bearer(t)) if t == "{{ api_token }}"));
        assert!(matches!(&first.body, Some(DraftBody::Json(v)) if v["name"] == "ann"));
        assert_eq!(first.origin, "api.sh:3");
        assert!(
            matches!(&d.requests[1].auth, Some(DraftAuth::Basic(u, p)) if u == "admin" && p == "{{ admin_password }}")
        );
        assert!(matches!(&d.requests[2].body, Some(DraftBody::Multipart(p)) if p.len() == 2 && p[1].2));
        assert_eq!(d.requests[2].untranslated, ["curl option `--frobnicate`"]);
        let vars: Vec<&str> = d.vars.iter().map(|(_, v)| v.as_str()).collect();
        assert!(vars.contains(&"{{ secret_env('API_TOKEN', default='') }}"), "{vars:?}");
        assert!(vars.contains(&"{{ env('BASE', default='http://127.0.0.1:8080') }}"), "{vars:?}");
    }

    #[test]
    fn a_comment_with_a_quote_hides_no_command_and_bodies_span_lines() {
        let text = "# here's how to call it\ncurl https://example.test/a\n  # don't forget\ncurl -X POST https://example.test/b \\\n  -d '{\n  \"it is\": 1\n}'\ncurl https://example.test/c \"it's\" \\\n  -H 'x: 1'\n";
        let found = commands(text);
        let urls: Vec<String> = found
            .iter()
            .map(|(line, w)| {
                format!("{line}:{}", w.as_ref().map_or("error".into(), |w| w[w.len().min(2) - 1].clone()))
            })
            .collect();
        assert_eq!(found.len(), 3, "{urls:?}");
        assert!(matches!(&found[0], (2, Ok(w)) if w[1] == "https://example.test/a"), "{found:?}");
        assert!(
            matches!(&found[1], (4, Ok(w)) if w.contains(&"{\n  \"it is\": 1\n}".to_string())),
            "{found:?}"
        );
        assert!(matches!(&found[2], (8, Ok(w)) if w.contains(&"x: 1".to_string())), "{found:?}");
    }

    #[test]
    fn a_long_quoted_body_is_read_in_one_pass() {
        // 200,000 lines in one quote: scanned once, not once per line.
        let body: String = (0..200_000).map(|i| format!("  \"k{i}\": {i},\n")).collect();
        let text = format!("curl -X POST https://example.test/x -d '{{\n{body}  \"end\": 0\n}}'\n");
        let found = commands(&text);
        assert_eq!(found.len(), 1);
        assert!(matches!(&found[0], (1, Ok(w)) if w.len() == 6), "{:?}", found[0].1.as_ref().map(Vec::len));
    }
}
