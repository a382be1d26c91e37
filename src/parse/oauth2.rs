//! `auth: {oauth2: …}`: an OAuth2 profile, turned into ordinary auth steps.
//!
//! The profile becomes a token step (and, when the server issues refresh tokens, a
//! refresh-only step), so rendering, tracing, masking, caching and reporting work
//! exactly as for hand-written auth steps. The token lands in the `access_token`,
//! `token_type`, `expires_in` and `refresh_token` variables; requests without their
//! own credentials send `Authorization: <token_type> <access_token>`.

use super::{Parser, field, key_span};
use crate::diagnostic::{Code, Diagnostic, suggest};
use crate::model::oauth2_vars::{ACCESS_TOKEN, EXPIRES_IN, REFRESH_TOKEN, TOKEN_TYPE};
use crate::model::{
    AuthSpec, Body, CaptureSource, CaptureSpec, Compiled, Expect, Expiry, Lifecycle, OAuth2Info, Role, Step,
};
use crate::source::Span;
use crate::yaml::{Key, Node, Value};

const PROFILE_KEYS: &[&str] = &[
    "name",
    "token_url",
    "grant",
    "method",
    "client_id",
    "client_secret",
    "client_auth",
    "body_format",
    "scope",
    "audience",
    "username",
    "password",
    "refresh_token",
    "headers",
    "params",
    "token_path",
    "cache",
];
const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];
const CLIENT_AUTH: &[&str] = &["basic", "body"];
const BODY_FORMATS: &[&str] = &["form", "json", "query"];

fn text(value: &str, span: Span) -> Node {
    Node { value: Value::Str(value.to_string()), span }
}

fn key(name: &str, span: Span) -> Key {
    Key { name: name.to_string(), span }
}

/// `$.data.access_token` → `$.data.<name>`: the other token fields sit beside the token.
fn sibling(token_path: &str, name: &str) -> String {
    match token_path.rsplit_once('.') {
        Some((parent, last)) if !last.contains(['[', ']']) && parent.len() > 1 => format!("{parent}.{name}"),
        _ => format!("$.{name}"),
    }
}

impl Parser<'_> {
    fn choice(&mut self, map: &[(Key, Node)], name: &str, options: &[&str], default: &str) -> String {
        let Some(n) = field(map, name) else { return default.to_string() };
        let Some(v) = self.string(n, name) else { return default.to_string() };
        if !options.contains(&v.as_str()) {
            self.err(
                Diagnostic::error(Code::BadValue, format!("`{v}` is not a valid `{name}`"))
                    .at(n.span, format!("expected one of: {}", options.join(", ")))
                    .help(suggest(&v, options)),
            );
        }
        v
    }

    fn required(&mut self, map: &[(Key, Node)], name: &str, why: &str, at: Span) -> Option<Node> {
        let found = field(map, name).cloned();
        if found.is_none() {
            self.err(
                Diagnostic::error(Code::MissingField, format!("the oauth2 profile needs `{name}:` {why}"))
                    .at(at, format!("no `{name}` here"))
                    .help(format!("add `{name}: …` (templates such as `{{{{ secret_env('NAME') }}}}` work)")),
            );
        }
        found
    }

    fn capture(
        &mut self,
        name: &str,
        path: &str,
        span: Span,
        secret: bool,
        optional: bool,
    ) -> Option<CaptureSpec> {
        let compiled = self.jsonpath(path, span)?;
        Some(CaptureSpec {
            name: key(name, span),
            source: CaptureSource::JsonPath(compiled),
            secret: Some(secret),
            optional,
        })
    }

    /// Parses `auth: {oauth2: …}` into its token step(s).
    pub(super) fn oauth2_profile(&mut self, node: &Node) -> Option<(Vec<Step>, OAuth2Info)> {
        let outer = self.map(node, "auth", &["oauth2"])?;
        let Some(profile) = field(outer, "oauth2") else {
            self.err(
                Diagnostic::error(Code::MissingField, "`auth:` is a list of steps or `{oauth2: …}`")
                    .at(node.span, "expected `oauth2:` here")
                    .help("write `auth:` followed by `- name: …` steps, or `auth: {oauth2: {token_url: …}}`"),
            );
            return None;
        };
        let span = profile.span;
        let map = self.map(profile, "the oauth2 profile", PROFILE_KEYS)?;
        let token_url = self.required(map, "token_url", "(where tokens are issued)", span);
        let grant = self.choice(map, "grant", GRANTS, "client_credentials");
        let grant_span = field(map, "grant").map_or(span, |n| n.span);
        let client_auth = self.choice(map, "client_auth", CLIENT_AUTH, "body");
        let format = self.choice(map, "body_format", BODY_FORMATS, "form");
        let method = match field(map, "method").and_then(|n| self.string(n, "method")) {
            Some(m) => m.to_ascii_uppercase(),
            None if format == "query" => "GET".to_string(),
            None => "POST".to_string(),
        };
        let client_id = field(map, "client_id").cloned();
        let client_secret = field(map, "client_secret").cloned();
        let token_path_node = field(map, "token_path");
        let token_path = token_path_node
            .and_then(|n| self.string(n, "token_path"))
            .unwrap_or_else(|| "$.access_token".to_string());
        let token_span = token_path_node.map_or(span, |n| n.span);
        let cache = self.flag(map, "cache");
        let name = field(map, "name").and_then(|n| self.string(n, "name")).unwrap_or_else(|| "oauth2".into());

        // Parameters common to the token and refresh requests.
        let mut client_pairs = Vec::new();
        let mut auth = None;
        match client_auth.as_str() {
            "basic" => {
                let user = self.required(map, "client_id", "for `client_auth: basic`", span);
                let pass = self.required(map, "client_secret", "for `client_auth: basic`", span);
                if let (Some(username), Some(password)) = (user, pass) {
                    auth = Some(AuthSpec::Basic { username, password });
                }
            }
            _ => {
                for (k, n) in [("client_id", &client_id), ("client_secret", &client_secret)] {
                    if let Some(n) = n {
                        client_pairs.push((key(k, n.span), n.clone()));
                    }
                }
            }
        }
        let extra: Vec<(Key, Node)> = field(map, "params").map_or_else(Vec::new, |n| self.pairs(n, "params"));
        let mut headers: Vec<(Key, Node)> =
            field(map, "headers").map_or_else(Vec::new, |n| self.pairs(n, "headers"));
        if !headers.iter().any(|(k, _)| k.name.eq_ignore_ascii_case("accept")) {
            headers.push((key("accept", span), text("application/json", span)));
        }

        let mut pairs = vec![(key("grant_type", grant_span), text(&grant, grant_span))];
        match grant.as_str() {
            "password" => {
                for name in ["username", "password"] {
                    if let Some(n) = self.required(map, name, "for the password grant", grant_span) {
                        pairs.push((key(name, n.span), n));
                    }
                }
            }
            "refresh_token" => {
                if let Some(n) =
                    self.required(map, "refresh_token", "for the refresh_token grant", grant_span)
                {
                    pairs.push((key("refresh_token", n.span), n));
                }
            }
            _ => {
                if client_id.is_none() {
                    self.required(map, "client_id", "for the client_credentials grant", grant_span);
                }
            }
        }
        pairs.extend(client_pairs.iter().cloned());
        for name in ["scope", "audience"] {
            if let Some(n) = field(map, name) {
                pairs.push((key(name, n.span), n.clone()));
            }
        }
        pairs.extend(extra.iter().cloned());

        let captures: Vec<CaptureSpec> = [
            self.capture(ACCESS_TOKEN, &token_path, token_span, true, false),
            self.capture(TOKEN_TYPE, &sibling(&token_path, "token_type"), token_span, false, true),
            self.capture(EXPIRES_IN, &sibling(&token_path, "expires_in"), token_span, false, true),
            self.capture(REFRESH_TOKEN, &sibling(&token_path, "refresh_token"), token_span, true, true),
        ]
        .into_iter()
        .flatten()
        .collect();
        let expires_in = self
            .jsonpath(&sibling(&token_path, "expires_in"), token_span)
            .map(|p: Compiled<_>| Expiry::JsonPath(p));

        let url = token_url?;
        let build = |name: String, pairs: Vec<(Key, Node)>, lifecycle: Lifecycle| {
            let (query, body) = match format.as_str() {
                "query" => (pairs, None),
                "json" => (Vec::new(), Some(Body::Json(Node { value: Value::Map(pairs), span }))),
                _ => (Vec::new(), Some(Body::Form(pairs))),
            };
            Step {
                name,
                named: true,
                name_span: key_span(outer, "oauth2").unwrap_or(span),
                role: Role::Auth,
                method: method.clone(),
                url: url.clone(),
                query,
                headers: headers.clone(),
                body,
                auth: auth.clone(),
                timeout: None,
                captures: captures.clone(),
                expect: Expect::default(),
                span,
                lifecycle,
                snapshot: None,
                tags: Vec::new(),
                retry: None,
            }
        };
        let mut steps = vec![build(
            name.clone(),
            pairs,
            Lifecycle { once: false, cache, expires_in: expires_in.clone(), refresh_only: false },
        )];
        if grant != "refresh_token" {
            let mut refresh = vec![
                (key("grant_type", span), text("refresh_token", span)),
                (key("refresh_token", span), text(&format!("{{{{ {REFRESH_TOKEN} }}}}"), span)),
            ];
            refresh.extend(client_pairs);
            steps.push(build(
                format!("{name} refresh"),
                refresh,
                Lifecycle { once: false, cache: false, expires_in, refresh_only: true },
            ));
        }
        Some((steps, OAuth2Info { span }))
    }
}
