//! Semantic checks: variables, data flow between steps, templates.
//!
//! Runs after parsing and before anything is sent. `vars` resolves the variable layers;
//! this file folds every step into its compiled form (templates compiled once, defaults
//! merged) and checks that each variable a step reads is defined by then: an undefined
//! name gets a did-you-mean, a name captured by a later step gets both positions. Every
//! problem is collected, not just the first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, did_you_mean, suggest};
use crate::model::{AuthSpec, Collection, Profile, Role, Step, oauth2_vars};
use crate::plan::{Need, Plan, PlannedStep};
use crate::secret::Masker;
use crate::source::{Key, SourceMap, Span};
use crate::template::{Engine, FUNCTIONS, Scope};
use crate::yaml::Node;

mod files;
mod request;
mod vars;

pub use vars::{Overrides, resolve_vars};

/// Checks a collection's data flow and folds its steps into a [`Plan`]: each authored step,
/// with the defaults merged and its credentials resolved, becomes a step that carries its
/// own compiled templates.
pub fn check<'a>(
    c: &'a Collection,
    engine: &'a Engine,
    scope: Scope,
    sources: &SourceMap,
    masker: &Masker,
) -> Result<Plan<'a>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let steps: Vec<&Step<Node>> = c.steps().collect();
    // capture name → (step index, span of the capture key), in run order.
    let mut captured: HashMap<&str, Vec<(usize, Span)>> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        for cap in &s.captures {
            captured.entry(cap.name.name.as_str()).or_default().push((i, cap.name.span));
        }
    }
    unknown_secrets(c, &scope, &captured, &mut diags);
    let static_ctx = Arc::new(scope.clone()).context();
    let mut planned = Vec::with_capacity(steps.len());
    let mut warnings = Vec::new();
    // One expression cache for the collection: a default's `{{ token }}` is compiled once.
    let mut compiler = engine.compiler();
    // variable name → the first step that reads it.
    let mut read_before: HashMap<String, usize> = HashMap::new();
    // The profile of each auth step, by position.
    let profile_of =
        |k: Option<&Key>| c.profiles.iter().position(|p| p.label() == k.map(|k| k.name.as_str()));
    for (i, authored) in steps.iter().enumerate() {
        // A request uses the profile it names, else the first.
        let mut sessions: Vec<usize> = match (&authored.role, &authored.profile) {
            (Role::Auth, p) => profile_of(p.as_ref()).into_iter().collect(),
            (Role::Request, Some(k)) => match profile_of(Some(k)) {
                // An OAuth2 profile sends its token: the step's own credentials would
                // replace it. A list of auth steps leaves the header to the request.
                Some(p) if c.profiles[p].oauth2 && authored.auth.is_some() => {
                    diags.push(
                        Diagnostic::error(Code::ConflictingAuth, format!("`auth: {}` sends that profile's token, and the step has credentials of its own", k.name))
                            .at(k.span, "an OAuth2 profile")
                            .help("keep `auth: NAME`, or the step's own `bearer:`/`basic:`"),
                    );
                    Vec::new()
                }
                Some(p) => vec![p],
                None => {
                    diags.push(unknown_profile(c, k));
                    Vec::new()
                }
            },
            // The first profile's token, when it is OAuth2 and the request has no credentials
            // of its own; auth steps' captures are followed below.
            (Role::Request, None) => match c.profiles.first() {
                Some(p) if p.oauth2 && authored.auth.is_none() => vec![0],
                _ => Vec::new(),
            },
        };
        let oauth2 = match authored.role {
            Role::Request => {
                sessions.first().map(|&p| &c.profiles[p]).filter(|p| p.oauth2).map(Profile::label)
            }
            Role::Auth => None,
        };
        let merged = authored.map(&mut |n| n).with_defaults(&c.defaults, oauth2);
        let mut used = Vec::new();
        let mut required = HashSet::new();
        // A `then:` (or `let:`) template also reads `value` and the captures of its step
        // that come before it.
        let local: HashMap<Span, Vec<&str>> = authored
            .captures
            .iter()
            .enumerate()
            .filter_map(|(k, cap)| {
                let t = cap.then.as_ref()?;
                let before = authored.captures[..k].iter().map(|c| c.name.name.as_str());
                Some((t.span, std::iter::once("value").chain(before).collect()))
            })
            .collect();
        // A device-code token step reads the device code its own first request gets.
        // A device-code step's device code and a token step's client assertion come when
        // the step is sent.
        let mut step_locals: Vec<String> = Vec::new();
        let profile = authored.profile.as_ref().map(|k| k.name.as_str());
        if authored.device.is_some() {
            step_locals.push(oauth2_vars::of(profile, oauth2_vars::DEVICE_CODE));
        }
        if authored.assertion.is_some() {
            step_locals.push(oauth2_vars::of(profile, oauth2_vars::CLIENT_ASSERTION));
        }
        if authored.authorize.is_some() {
            for var in
                [oauth2_vars::AUTHORIZATION_CODE, oauth2_vars::CODE_VERIFIER, oauth2_vars::REDIRECT_URI]
            {
                step_locals.push(oauth2_vars::of(profile, var));
            }
        }
        let mut step = merged.map(&mut |node: &&'a Node| {
            let before = diags.len();
            let compiled = compiler.compile_into(node, sources, &mut diags);
            if diags.len() == before {
                let mut vars = Vec::new();
                compiled.variables(sources, &mut vars);
                if let Some(names) = local.get(&node.span) {
                    vars.retain(|(v, _)| !names.contains(&v.as_str()));
                }
                let reads_local = vars.iter().any(|(v, _)| step_locals.contains(v));
                vars.retain(|(v, _)| !step_locals.contains(v));
                // A template that reads only known variables is rendered once now, so a
                // mistake such as `{{ user.nmae }}` is caught before anything is sent.
                if !compiled.is_literal()
                    && !local.contains_key(&node.span)
                    && !reads_local
                    && vars.iter().all(|(v, _)| scope.contains(v))
                    && let Err(e) = compiled.render(&static_ctx, sources)
                {
                    diags.push(e.to_diagnostic());
                }
                used.extend(vars);
                let mut unguarded = HashSet::new();
                compiled.unguarded_variables(&mut unguarded);
                if let Some(names) = local.get(&node.span) {
                    unguarded.retain(|v| !names.contains(&v.as_str()));
                }
                unguarded.retain(|v| !step_locals.contains(v));
                required.extend(unguarded);
            }
            compiled
        });
        files::load(&mut step.expect, sources, &mut diags);
        if let Some(retry) = &mut step.retry {
            for e in [&mut retry.until, &mut retry.fail_if].into_iter().flatten() {
                files::load(e, sources, &mut diags);
            }
        }
        // A capture named in `secrets:` is secret, whatever its step says.
        for cap in &mut step.captures {
            if c.secrets.iter().any(|k| k.name == cap.name.name) {
                cap.secret = Some(true);
            }
        }
        if step.wait.is_none() {
            diags.extend(request::url_problem(&step, &scope, &static_ctx, sources));
        }
        request::content_type_warnings(&step, &mut warnings);
        if let Some(tls) = step.tls.as_ref().filter(|t| t.insecure)
            && !warnings.iter().any(|w: &Diagnostic| {
                w.code == Code::InsecureTls && w.labels.first().map(|l| l.span) == Some(tls.span)
            })
        {
            warnings.push(
                Diagnostic::warning(
                    Code::InsecureTls,
                    format!("step `{}` does not verify TLS certificates", step.name),
                )
                .at(tls.span, "`insecure: true`")
                .note("anyone on the way can read and change what it sends, credentials included")
                .help("trust the server's CA instead: `tls: {ca: ca.pem}`"),
            );
        }
        if let Some(AuthSpec::OAuth2(p)) = &step.auth {
            let token = oauth2_vars::of(p.as_deref(), oauth2_vars::ACCESS_TOKEN);
            used.push((token.clone(), step.name_span));
            required.insert(token);
        }
        shadowing_warnings(authored, &steps, &scope, &read_before, &mut warnings);
        for (name, _) in &used {
            read_before.entry(name.clone()).or_insert(i);
        }
        let needs = needs_of(i, used, &required, &steps, &scope, &captured, sources, &mut diags);
        // A request is also in the sessions of the auth steps whose captures it reads.
        if authored.role == Role::Request {
            for n in &needs {
                if let Some(p) =
                    profile_of(steps[n.from].profile.as_ref()).filter(|_| steps[n.from].role == Role::Auth)
                    && !sessions.contains(&p)
                {
                    sessions.push(p);
                }
            }
        }
        planned.push(PlannedStep { index: i, step, needs, sessions });
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let selected = vec![true; planned.len()];
    Ok(Plan {
        name: c.name.clone(),
        file: c.file,
        tags: c.tags.clone(),
        scope: Arc::new(scope),
        steps: planned,
        selected,
        masker: masker.clone(),
        warnings,
        description: c.description.clone(),
        cookies: c.cookies,
        passes: Vec::new(),
    })
}

/// A request's `auth: NAME` that names no profile.
fn unknown_profile(c: &Collection, k: &Key) -> Diagnostic {
    let names: Vec<&str> = c.profiles.iter().filter_map(Profile::label).collect();
    let d = Diagnostic::error(Code::UnknownProfile, format!("no profile named `{}`", k.name))
        .at(k.span, "not a profile");
    match names.is_empty() {
        true => d.help("name profiles under `auth:` (`auth: {admin: {oauth2: …}}`), or write `auth: none`"),
        false => d.help(suggest(&k.name, &names)),
    }
}

/// Names in `secrets:` that are neither a variable nor a capture: a typo would leave the
/// value it meant in clear.
fn unknown_secrets(
    c: &Collection,
    scope: &Scope,
    captured: &HashMap<&str, Vec<(usize, Span)>>,
    diags: &mut Vec<Diagnostic>,
) {
    for key in &c.secrets {
        if scope.contains(&key.name) || captured.contains_key(key.name.as_str()) {
            continue;
        }
        let known = scope.names().chain(captured.keys().copied());
        let help = match crate::diagnostic::did_you_mean(&key.name, known) {
            Some(k) => format!("did you mean `{k}`?"),
            None => {
                "list the names of variables (`vars:`, `--var`) or captures whose values are secret".into()
            }
        };
        diags.push(
            Diagnostic::error(
                Code::UnknownSecret,
                format!("`secrets:` names `{}`, which is neither a variable nor a capture", key.name),
            )
            .at(key.span, "no such variable or capture")
            .help(help),
        );
    }
}

/// A capture that replaces a variable an earlier step read: later steps see the captured
/// value, while a renewal replays the auth steps with the variable's (see the README).
fn shadowing_warnings(
    step: &Step<Node>,
    steps: &[&Step<Node>],
    scope: &Scope,
    read_before: &HashMap<String, usize>,
    out: &mut Vec<Diagnostic>,
) {
    for cap in &step.captures {
        let name = &cap.name.name;
        let Some(&reader) = read_before.get(name).filter(|_| scope.contains(name)) else { continue };
        let reader = &steps[reader].name;
        out.push(
            Diagnostic::warning(
                Code::CaptureShadowsVariable,
                format!("capture `{name}` replaces the variable `{name}` that step `{reader}` reads earlier"),
            )
            .at(cap.name.span, "captured here")
            .note(format!(
                "steps after `{}` read the captured value; a renewal of the credentials replays `{reader}` \
                 with the variable's value",
                step.name
            ))
            .help("if it holds another value, give the capture a name of its own"),
        );
    }
}

/// The captured variables step `i` reads, each with the earlier step that provides it; a
/// variable that is neither defined nor captured earlier is a problem, unless every use
/// of it is guarded (`| default(…)`, `is defined`: not in `required`).
#[allow(clippy::too_many_arguments)]
fn needs_of(
    i: usize,
    used: Vec<(String, Span)>,
    required: &HashSet<String>,
    steps: &[&Step<Node>],
    scope: &Scope,
    captured: &HashMap<&str, Vec<(usize, Span)>>,
    sources: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    let mut reported = HashSet::new();
    for (name, span) in used {
        if scope.contains(&name) || needs.iter().any(|n| n.name == name) {
            continue;
        }
        let sites = captured.get(name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        // The step that provides a value in sequence; refresh-only steps merely renew it.
        let provider = sites
            .iter()
            .rev()
            .find(|(j, _)| *j < i && !steps[*j].lifecycle.refresh_only)
            .or_else(|| sites.iter().rev().find(|(j, _)| *j < i));
        if let Some((j, _)) = provider {
            needs.push(Need { name, from: *j });
            continue;
        }
        if !required.contains(&name) {
            continue;
        }
        if reported.insert(name.clone()) {
            diags.push(undefined(&name, span, sites, steps, i, scope, captured, sources));
        }
    }
    needs
}

#[allow(clippy::too_many_arguments)]
fn undefined(
    name: &str,
    span: Span,
    later: &[(usize, Span)],
    steps: &[&Step<Node>],
    i: usize,
    scope: &Scope,
    captured: &HashMap<&str, Vec<(usize, Span)>>,
    sources: &SourceMap,
) -> Diagnostic {
    if let Some((j, cap_span)) = later.first() {
        let by = steps[*j];
        let when = if *j == i {
            "captured by this same step; a capture is available to the steps after it".to_string()
        } else {
            format!("captured by step `{}`, which runs after this one", by.name)
        };
        let hint = if *j == i {
            format!("read `{name}` in a step after `{}`", by.name)
        } else if by.role == Role::Request && steps[i].role == Role::Auth {
            format!(
                "auth steps run before requests: move `{}` under `auth:`, before `{}`",
                by.name, steps[i].name
            )
        } else {
            format!("move step `{}` before `{}`", by.name, steps[i].name)
        };
        return Diagnostic::error(Code::CapturedTooLate, format!("`{name}` is used before it is captured"))
            .at(span, format!("used in step `{}`", steps[i].name))
            .also(*cap_span, when)
            .help(hint);
    }
    let called = {
        let full = sources.get(span.file).map(|f| &f.text[span.end.min(f.text.len())..]).unwrap_or("");
        full.trim_start().starts_with('(')
    };
    if called {
        return Diagnostic::error(Code::UnknownFunction, format!("unknown function `{name}`"))
            .at(span, "not a function")
            .help(match did_you_mean(name, FUNCTIONS.iter().copied()) {
                Some(f) => format!("did you mean `{f}()`?"),
                None => format!("available functions: {}", FUNCTIONS.join(", ")),
            });
    }
    let earlier = captured.iter().filter(|(_, sites)| sites.iter().any(|(j, _)| *j < i)).map(|(n, _)| *n);
    let known: Vec<&str> = scope.names().chain(earlier).collect();
    let hint = match did_you_mean(name, known.iter().copied()) {
        Some(k) => format!("did you mean `{k}`?"),
        None => {
            format!("define `{name}` under `vars:`, pass `--var {name}=…`, or capture it in an earlier step")
        }
    };
    Diagnostic::error(Code::UndefinedVariable, format!("undefined variable `{name}`"))
        .at(span, "not defined")
        .help(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    #[test]
    fn a_step_that_nulls_a_default_header_is_not_checked_against_it() {
        // The login step removes the session header it is about to capture; the default
        // header reading the capture applies only to the steps after it.
        let f = Fixture::new(
            "defaults:\n  headers: {X-Session: '{{ session }}'}\nauth:\n  - name: login\n    url: http://h/login\n    headers: {X-Session: null}\n    capture: {session: $.id}\nrequests:\n  - name: me\n    url: http://h/me\n",
        );
        let plan = f.valid();
        assert!(plan.step(0).headers.iter().all(|(k, t)| k.name != "X-Session" || t.is_literal()));
        assert_eq!(plan.steps[1].needs, [Need { name: "session".into(), from: 0 }]);
    }

    #[test]
    fn a_default_header_may_read_what_auth_steps_capture_but_not_a_later_request() {
        let f = Fixture::new(
            "defaults:\n  headers: {Authorization: '{{ token_type }} {{ access_token }}', Cookie: 'sid={{ sid }}'}\nauth:\n  - name: login\n    url: http://h/login\n    capture: {token_type: $.t, access_token: $.a, sid: $.s}\nrequests:\n  - name: me\n    url: http://h/me\n",
        );
        let plan = f.valid();
        let mut needs: Vec<&str> = plan.steps[1].needs.iter().map(|n| n.name.as_str()).collect();
        needs.sort_unstable();
        assert_eq!(needs, ["access_token", "sid", "token_type"]);
        assert!(plan.steps[0].step.headers.is_empty(), "the login sends none of the defaults");
        let f = Fixture::new(
            "defaults:\n  headers: {X-Session: '{{ session }}'}\nrequests:\n  - name: me\n    url: http://h/me\n  - name: login\n    url: http://h/login\n    capture: {session: $.id}\n",
        );
        assert_eq!(f.codes(), ["captured-too-late", "captured-too-late"]);
    }

    #[test]
    fn a_use_guarded_by_default_or_is_defined_may_be_undefined_or_captured_later() {
        let f = Fixture::new(
            "requests:\n  - name: a\n    url: \"http://h/a?x={{ x | default('') }}&y={{ y|d(1) }}\"\n    headers: {X-Id: \"{% if id is defined %}{{ id.value }}{% endif %}\", X-Z: \"{{ 'z' if z is defined else 'none' }}\"}\n  - name: b\n    url: http://h/b\n    capture: {id: $.id}\n  - name: c\n    url: \"http://h/c/{{ id | default('none') }}\"\n",
        );
        let plan = f.valid();
        assert!(plan.steps[0].needs.is_empty(), "{:?}", plan.steps[0].needs);
        // An earlier capture is still a need: the value flows when it is there.
        assert_eq!(plan.steps[2].needs, [Need { name: "id".into(), from: 1 }]);
        // One unguarded use among guarded ones makes the variable required.
        let f = Fixture::new(
            "requests:\n  - url: \"http://h/{{ x | default('') }}/{{ x }}\"\n  - url: \"http://h/{% if x is defined %}{{ x }}{% endif %}{{ x }}\"\n",
        );
        assert_eq!(f.codes(), ["undefined-variable", "undefined-variable"]);
        let f = Fixture::new("requests:\n  - url: \"http://h/{{ xs | default('') }}{{ x }}\"\n");
        assert_eq!(f.codes(), ["undefined-variable"], "`xs` guarded does not guard `x`");
    }

    #[test]
    fn needs_point_at_the_step_that_captures() {
        let f = Fixture::new(
            "requests:\n  - name: a\n    url: http://h/a\n    capture: {id: $.id}\n  - name: b\n    url: 'http://h/b/{{ id }}'\n",
        );
        let plan = f.valid();
        assert!(plan.steps[0].needs.is_empty());
        assert_eq!(plan.steps[1].needs, [Need { name: "id".into(), from: 0 }]);
    }

    #[test]
    fn an_undefined_variable_gets_a_did_you_mean() {
        let f = Fixture::new("vars: {base_url: http://h}\nrequests:\n  - url: '{{ base_ulr }}/a'\n");
        let ds = f.plan().err().expect("invalid");
        assert_eq!(ds[0].code, "undefined-variable");
        assert_eq!(ds[0].help.as_deref(), Some("did you mean `base_url`?"));
    }

    #[test]
    fn a_capture_read_by_its_own_step_is_too_late() {
        let f = Fixture::new("requests:\n  - url: 'http://h/{{ id }}'\n    capture: {id: $.id}\n");
        let ds = f.plan().err().expect("invalid");
        assert_eq!(ds[0].code, "captured-too-late");
        assert!(ds[0].help.as_deref().unwrap_or("").contains("in a step after"), "{:?}", ds[0].help);
    }

    #[test]
    fn variables_may_use_variables_defined_below_them() {
        let f = Fixture::new(
            "vars:\n  url: '{{ host }}/v1'\n  host: http://h\nrequests:\n  - url: '{{ url }}'\n",
        );
        let plan = f.valid();
        let ctx = f.context(&plan, &[]);
        assert_eq!(ctx.text(&plan.step(0).url, "url").expect("text"), "http://h/v1");
    }

    #[test]
    fn a_cycle_between_variables_names_every_member() {
        let f = Fixture::new("vars:\n  a: '{{ b }}'\n  b: '{{ a }}'\nrequests:\n  - url: http://h\n");
        let ds = f.plan().err().expect("invalid");
        assert_eq!(ds[0].code, "variable-cycle");
        assert!(ds[0].message.contains("`a`") && ds[0].message.contains("`b`"), "{}", ds[0].message);
    }

    #[test]
    fn an_unset_environment_variable_is_missing_env_from_its_typed_cause() {
        let f = Fixture::new("vars:\n  key: \"{{ env('NO_SUCH_VAR_X') }}\"\nrequests:\n  - url: http://h\n");
        let ds = f.plan().err().expect("invalid");
        assert_eq!(ds[0].code, "missing-env");
        assert!(ds[0].help.as_deref().unwrap_or("").starts_with("set NO_SUCH_VAR_X"), "{:?}", ds[0].help);
        let set = Fixture::with_env(
            "vars:\n  key: \"{{ env('X_SET') }}\"\nrequests:\n  - url: http://h\n",
            &[("X_SET", "1")],
        );
        assert!(set.codes().is_empty());
    }

    #[test]
    fn overrides_win_over_vars_and_secret_named_ones_are_masked() {
        let f = Fixture::new("vars: {api_token: file}\nrequests:\n  - url: 'http://h/{{ api_token }}'\n");
        let plan = f.plan_with(&[("api_token", "cli-tok-42")]).expect("valid");
        let ctx = f.context(&plan, &[]);
        assert_eq!(ctx.text(&plan.step(0).url, "url").expect("text"), "http://h/cli-tok-42");
        assert_eq!(f.masker.mask("cli-tok-42"), crate::secret::MASK);
    }

    #[test]
    fn a_field_typo_in_a_known_variable_is_caught_before_sending() {
        let f = Fixture::new("vars:\n  user: {name: ann}\nrequests:\n  - url: 'http://h/{{ user.nmae }}'\n");
        let ds = f.plan().err().expect("invalid");
        assert_eq!(ds[0].code, "render-error");
        assert!(ds[0].message.contains("user.nmae"), "{}", ds[0].message);
    }

    #[test]
    fn oauth2_requests_need_the_access_token_from_the_token_step() {
        let f = Fixture::new(
            "auth:\n  oauth2:\n    grant: client_credentials\n    token_url: http://h/token\n    client_id: app\n    client_secret: cs\nrequests:\n  - name: me\n    url: http://h/me\n",
        );
        let plan = f.valid();
        let me = plan.steps.iter().find(|ps| ps.step.name == "me").expect("me");
        assert!(matches!(me.step.auth, Some(AuthSpec::OAuth2(None))));
        assert_eq!(me.needs.len(), 1);
        assert_eq!(me.needs[0].name, "access_token");
        assert_eq!(plan.step(me.needs[0].from).role, Role::Auth);
    }
}
