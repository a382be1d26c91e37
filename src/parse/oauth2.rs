//! `auth: {oauth2: …}`: an OAuth2 profile, turned into ordinary auth steps.
//!
//! The profile becomes a token step (and, when the server issues refresh tokens, a
//! refresh-only step), so rendering, tracing, masking, caching and reporting work
//! exactly as for hand-written auth steps. The token lands in the `access_token`,
//! `token_type`, `expires_in` and `refresh_token` variables; requests without their
//! own credentials send `Authorization: <token_type> <access_token>`.

use super::{Parser, field, key_span};
use crate::diagnostic::{Code, Diagnostic, suggest};
use crate::model::oauth2_vars::{
    self, ACCESS_TOKEN, CLIENT_ASSERTION, DEVICE_CODE, EXPIRES_IN, REFRESH_TOKEN, TOKEN_TYPE,
};
use crate::model::{
    AuthSpec, Body, CaptureSource, CaptureSpec, Compiled, Expect, Expiry, Lifecycle, Profile, Role, Step,
};
use crate::source::Span;
use crate::yaml::{Key, Node, Value};

pub(crate) const PROFILE_KEYS: &[&str] = &[
    "name",
    "issuer",
    "token_url",
    "device_url",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "resource",
    "client_key",
    "client_key_id",
    "client_key_alg",
    "assertion_claims",
    "authorization_url",
    "redirect_uri",
    "authorize_params",
    "authorization_wait",
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
pub(crate) const GRANTS: &[&str] = &[
    "client_credentials",
    "password",
    "refresh_token",
    "device_code",
    "token_exchange",
    "jwt_bearer",
    "authorization_code",
];
/// The grant type of a JWT bearer grant (RFC 7523 2.1).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The grant type of a token exchange (RFC 8693).
const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type a subject token has unless `subject_token_type:` says.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The grant type a device-code token request sends (RFC 8628).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(crate) const CLIENT_AUTH: &[&str] = &["basic", "body", "private_key_jwt", "client_secret_jwt"];
/// Algorithms a `private_key_jwt` assertion may be signed with.
pub(crate) const KEY_ALGS: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"];
/// The assertion type a client assertion is sent with (RFC 7523 2.2).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub(crate) const BODY_FORMATS: &[&str] = &["form", "json", "query"];

/// The capture a discovered profile reads its token endpoint from.
const OIDC_TOKEN_ENDPOINT: &str = "oidc_token_endpoint";

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
            implied: None,
            then: None,
        })
    }

    /// The variable `name` of the profile being parsed (`admin_access_token`).
    fn var(&self, name: &str) -> String {
        oauth2_vars::of(self.profile.as_ref().map(|k| k.name.as_str()), name)
    }

    /// A template reading [`var`](Self::var)`(name)`.
    fn read(&self, name: &str) -> String {
        format!("{{{{ {} }}}}", self.var(name))
    }

    /// Parses `{oauth2: …}` (the whole `auth:`, or a named profile's value) into its
    /// token step(s), each marked with the profile.
    pub(super) fn oauth2_profile(
        &mut self,
        node: &Node,
        profile: Option<&Key>,
    ) -> Option<(Vec<Step>, Profile)> {
        self.profile = profile.cloned();
        let parsed = self.oauth2_steps(node);
        self.profile = None;
        let (mut steps, span) = parsed?;
        for s in &mut steps {
            s.profile = profile.cloned();
        }
        Some((steps, Profile { name: profile.cloned(), span, oauth2: true }))
    }

    fn oauth2_steps(&mut self, node: &Node) -> Option<(Vec<Step>, Span)> {
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
        // `issuer:` finds the token endpoint in the provider's OpenID configuration.
        let discovery =
            field(map, "issuer").and_then(|issuer| self.discovery_step(issuer, field(map, "token_url")));
        let token_url = match &discovery {
            Some(d) => Some(text(&self.read(OIDC_TOKEN_ENDPOINT), d.span)),
            None => self.required(
                map,
                "token_url",
                "(where tokens are issued), or `issuer:` to discover it",
                span,
            ),
        };
        let grant = self.choice(map, "grant", GRANTS, "client_credentials");
        let grant_span = field(map, "grant").map_or(span, |n| n.span);
        let (client_pairs, auth) = if grant == "jwt_bearer" && field(map, "client_auth").is_none() {
            // The assertion identifies the client (RFC 7523 3.1): nothing else is sent.
            (Vec::new(), None)
        } else {
            self.client_auth(map, span)
        };
        let format = self.choice(map, "body_format", BODY_FORMATS, "form");
        let method = match field(map, "method").and_then(|n| self.string(n, "method")) {
            Some(m) => m.to_ascii_uppercase(),
            None if format == "query" => "GET".to_string(),
            None => "POST".to_string(),
        };
        let mut headers: Vec<(Key, Node)> =
            field(map, "headers").map_or_else(Vec::new, |n| self.pairs(n, "headers"));
        if !headers.iter().any(|(k, _)| k.name.eq_ignore_ascii_case("accept")) {
            headers.push((key("accept", span), text("application/json", span)));
        }
        let device = grant == "device_code";
        let grant_type = match grant.as_str() {
            "device_code" => DEVICE_GRANT,
            "token_exchange" => EXCHANGE_GRANT,
            "jwt_bearer" => JWT_BEARER_GRANT,
            other => other,
        };
        let mut pairs = vec![(key("grant_type", grant_span), text(grant_type, grant_span))];
        if grant == "token_exchange" {
            // RFC 8693 2.1: the subject token's type is required; the rest as written.
            if field(map, "subject_token_type").is_none() {
                pairs.push((key("subject_token_type", grant_span), text(ACCESS_TOKEN_TYPE, grant_span)));
            }
            for name in
                ["subject_token_type", "actor_token", "actor_token_type", "requested_token_type", "resource"]
            {
                if let Some(n) = field(map, name) {
                    pairs.push((key(name, n.span), n.clone()));
                }
            }
        }
        if grant == "jwt_bearer" {
            pairs.push((key("assertion", grant_span), text(&self.read(CLIENT_ASSERTION), grant_span)));
        }
        if device {
            pairs.push((key("device_code", grant_span), text(&self.read(DEVICE_CODE), grant_span)));
        }
        if grant == "authorization_code" {
            for (name, var) in [
                ("code", oauth2_vars::AUTHORIZATION_CODE),
                ("redirect_uri", oauth2_vars::REDIRECT_URI),
                ("code_verifier", oauth2_vars::CODE_VERIFIER),
            ] {
                pairs.push((key(name, grant_span), text(&self.read(var), grant_span)));
            }
        }
        pairs.extend(self.grant_params(map, &grant, grant_span, field(map, "client_id").is_some()));
        pairs.extend(client_pairs.iter().cloned());
        // A device or authorization-code grant asks for its scope with the user's approval,
        // not with the token.
        let front_channel = device || grant == "authorization_code";
        for name in ["scope", "audience"].into_iter().filter(|_| !front_channel) {
            if let Some(n) = field(map, name) {
                pairs.push((key(name, n.span), n.clone()));
            }
        }
        pairs.extend(field(map, "params").map_or_else(Vec::new, |n| self.pairs(n, "params")));
        let (captures, expires_in) = self.token_captures(map, key_span(outer, "oauth2").unwrap_or(span));
        let mut template = Step {
            name: field(map, "name")
                .and_then(|n| self.string(n, "name"))
                .or_else(|| self.profile.as_ref().map(|k| k.name.clone()))
                .unwrap_or_else(|| "oauth2".into()),
            named: true,
            name_span: key_span(outer, "oauth2").unwrap_or(span),
            role: Role::Auth,
            method,
            url: token_url?,
            query: Vec::new(),
            headers,
            body: None,
            auth,
            timeout: None,
            captures,
            expect: Expect::default(),
            span,
            lifecycle: Lifecycle {
                once: false,
                forget_on: None,
                cache: self.flag(map, "cache"),
                expires_in,
                refresh_only: false,
                share: true,
            },
            snapshot: None,
            tags: Vec::new(),
            retry: None,
            description: None,
            condition: None,
            delay: None,
            wait: None,
            redirects: None,
            repeat: 1,
            tls: None,
            http: None,
            device: None,
            assertion: None,
            profile: None,
            authorize: None,
        };
        let discovered = discovery.is_some();
        let mut steps: Vec<Step> = discovery.into_iter().collect();
        // The refresh request authenticates its client the same way.
        template.assertion = self.client_assertion(map, &grant, span);
        let mut token = with_params(template.clone(), pairs, &format);
        if device {
            token.device = self.device_request(map, discovered, grant_span);
            token.retry = device_poll(self, grant_span);
        }
        if grant == "authorization_code" {
            token.authorize = self.authorize_request(map, discovered, grant_span);
        }
        steps.push(token);
        // Renewal uses the refresh token the server issued last, also for the
        // refresh_token grant: a server that rotates them refuses the one the profile
        // started from once it has been used.
        let mut refresh = vec![
            (key("grant_type", span), text("refresh_token", span)),
            (key("refresh_token", span), text(&self.read(REFRESH_TOKEN), span)),
        ];
        refresh.extend(client_pairs);
        let mut step = with_params(template, refresh, &format);
        step.name = format!("{} refresh", step.name);
        step.lifecycle.cache = false;
        step.lifecycle.share = false;
        step.lifecycle.refresh_only = true;
        steps.push(step);
        Some((steps, key_span(outer, "oauth2").unwrap_or(span)))
    }

    /// The step that reads `{issuer}/.well-known/openid-configuration` (kept for a day,
    /// per issuer, like a cached token) and captures the endpoints; the document must name
    /// the same issuer (OpenID Connect Discovery 1.0, section 4.3).
    fn discovery_step(&mut self, issuer: &Node, token_url: Option<&Node>) -> Option<Step> {
        if let Some(t) = token_url {
            self.err(
                Diagnostic::error(
                    Code::ConflictingAuth,
                    "the oauth2 profile has both `issuer:` and `token_url:`",
                )
                .at(t.span, "not needed with `issuer:`")
                .also(issuer.span, "the token endpoint is discovered from here")
                .help("keep `issuer:` to discover the endpoint, or `token_url:` to name it"),
            );
            return None;
        }
        let Value::Str(raw) = &issuer.value else {
            self.wrong_type(issuer, "issuer", "the issuer's URL");
            return None;
        };
        let span = issuer.span;
        let base = raw.trim_end_matches('/');
        let captures = vec![
            self.capture(&self.var(OIDC_TOKEN_ENDPOINT), "$.token_endpoint", span, false, false)?,
            self.capture(
                &self.var("oidc_authorization_endpoint"),
                "$.authorization_endpoint",
                span,
                false,
                true,
            )?,
            self.capture(
                &self.var("oidc_device_endpoint"),
                "$.device_authorization_endpoint",
                span,
                false,
                true,
            )?,
        ];
        let issuer_path = self.jsonpath("$.issuer", span)?;
        let expect = Expect {
            status: Some(crate::model::StatusExpect {
                allowed: vec![crate::model::StatusPattern::Code(200)],
                span,
            }),
            json: vec![(
                issuer_path,
                crate::model::Matcher { checks: vec![crate::model::Check::Equals(text(raw, span))], span },
            )],
            ..Expect::default()
        };
        Some(Step {
            name: match &self.profile {
                Some(p) => format!("{} oidc discovery", p.name),
                None => "oidc discovery".into(),
            },
            named: true,
            name_span: span,
            role: Role::Auth,
            method: "GET".into(),
            url: text(&format!("{base}/.well-known/openid-configuration"), span),
            query: Vec::new(),
            headers: vec![(key("accept", span), text("application/json", span))],
            body: None,
            auth: Some(AuthSpec::None),
            timeout: None,
            captures,
            expect,
            span,
            lifecycle: Lifecycle {
                once: false,
                forget_on: None,
                cache: true,
                expires_in: Some(Expiry::Fixed(std::time::Duration::from_secs(24 * 3600))),
                refresh_only: false,
                share: true,
            },
            snapshot: None,
            tags: Vec::new(),
            retry: None,
            description: Some("OpenID Connect discovery".into()),
            condition: None,
            delay: None,
            wait: None,
            redirects: None,
            repeat: 1,
            tls: None,
            http: None,
            device: None,
            assertion: None,
            profile: None,
            authorize: None,
        })
    }

    /// The device authorization request (RFC 8628 3.1) a device-code token step makes
    /// before polling: the client and scope to `device_url:` or the discovered endpoint.
    /// The authorization request of an authorization-code grant: its endpoint (written,
    /// or discovered), what it asks for, where the browser comes back and for how long
    /// baton waits.
    fn authorize_request(
        &mut self,
        map: &[(Key, Node)],
        discovered: bool,
        at: Span,
    ) -> Option<crate::model::AuthorizeRequest> {
        let url = match field(map, "authorization_url") {
            Some(n) => n.clone(),
            None if discovered => text(&self.read("oidc_authorization_endpoint"), at),
            None => {
                self.required(
                    map,
                    "authorization_url",
                    "for the authorization_code grant (or `issuer:` to discover it)",
                    at,
                );
                return None;
            }
        };
        if field(map, "client_id").is_none() {
            self.required(map, "client_id", "for the authorization_code grant", at);
        }
        let mut fields: Vec<(Key, Node)> = ["client_id", "scope", "audience"]
            .into_iter()
            .filter_map(|k| field(map, k).map(|n| (key(k, n.span), n.clone())))
            .collect();
        fields.extend(
            field(map, "authorize_params").map_or_else(Vec::new, |n| self.pairs(n, "authorize_params")),
        );
        let wait = field(map, "authorization_wait")
            .and_then(|n| self.duration(n, "authorization_wait", std::time::Duration::from_secs(3600)))
            .unwrap_or(std::time::Duration::from_secs(300));
        Some(crate::model::AuthorizeRequest {
            url,
            fields,
            redirect_uri: field(map, "redirect_uri").cloned(),
            wait,
            span: at,
        })
    }

    fn device_request(
        &mut self,
        map: &[(Key, Node)],
        discovered: bool,
        at: Span,
    ) -> Option<crate::model::DeviceRequest> {
        let url = match field(map, "device_url") {
            Some(n) => n.clone(),
            None if discovered => text(&self.read("oidc_device_endpoint"), at),
            None => {
                self.required(
                    map,
                    "device_url",
                    "for the device_code grant (or `issuer:` to discover it)",
                    at,
                );
                return None;
            }
        };
        let fields = ["client_id", "scope", "audience"]
            .into_iter()
            .filter_map(|k| field(map, k).map(|n| (key(k, n.span), n.clone())))
            .collect();
        Some(crate::model::DeviceRequest { url, fields })
    }

    /// The signing settings of `client_auth: private_key_jwt | client_secret_jwt`, or of
    /// the assertion a `jwt_bearer` grant sends: a PEM key (`client_key:`) or, for HS256,
    /// the client secret.
    fn client_assertion(
        &mut self,
        map: &[(Key, Node)],
        grant: &str,
        span: Span,
    ) -> Option<crate::model::ClientAssertion> {
        let how = field(map, "client_auth").and_then(|n| n.as_str().map(str::to_string)).unwrap_or_default();
        let jwt_auth = how.ends_with("_jwt");
        if grant == "jwt_bearer" && jwt_auth {
            let at = field(map, "client_auth").map_or(span, |n| n.span);
            self.err(
                Diagnostic::error(
                    Code::ConflictingAuth,
                    "a `jwt_bearer` grant already sends a signed assertion",
                )
                .at(at, format!("`client_auth: {how}` would sign a second one"))
                .help(
                    "drop `client_auth:` (the grant's assertion identifies the client), or use another grant",
                ),
            );
            return None;
        }
        if grant != "jwt_bearer" && !jwt_auth {
            return None;
        }
        let why = if jwt_auth {
            format!("for `client_auth: {how}`")
        } else {
            "for the jwt_bearer grant (the assertion's issuer)".into()
        };
        // What is missing is pointed at from what asked for it.
        let span = field(map, if jwt_auth { "client_auth" } else { "grant" }).map_or(span, |n| n.span);
        let client_id = self.required(map, "client_id", &why, span)?;
        let key_id = field(map, "client_key_id").cloned();
        let claims =
            field(map, "assertion_claims").map_or_else(Vec::new, |n| self.pairs(n, "assertion_claims"));
        let by_key = how == "private_key_jwt" || (!jwt_auth && field(map, "client_key").is_some());
        if by_key {
            let key_file = self.required(map, "client_key", &format!("(a PEM private key) {why}"), span)?;
            let alg = self.choice(map, "client_key_alg", KEY_ALGS, "RS256");
            return Some(crate::model::ClientAssertion { alg, client_id, key: key_file, key_id, claims });
        }
        let secret = self.required(
            map,
            "client_secret",
            &format!("(or `client_key:`) to sign the assertion {why}"),
            span,
        )?;
        Some(crate::model::ClientAssertion { alg: "HS256".into(), client_id, key: secret, key_id, claims })
    }

    /// How the client authenticates: parameters sent with every token request
    /// (`client_auth: body`), or HTTP Basic credentials (`client_auth: basic`).
    fn client_auth(&mut self, map: &[(Key, Node)], span: Span) -> (Vec<(Key, Node)>, Option<AuthSpec>) {
        let how = self.choice(map, "client_auth", CLIENT_AUTH, "body");
        if how.ends_with("_jwt") {
            // The client id and a signed assertion; the assertion is made when sending.
            self.required(map, "client_id", &format!("for `client_auth: {how}`"), span);
            let mut pairs: Vec<(Key, Node)> =
                field(map, "client_id").map(|n| (key("client_id", n.span), n.clone())).into_iter().collect();
            pairs.push((key("client_assertion_type", span), text(ASSERTION_TYPE, span)));
            pairs.push((key("client_assertion", span), text(&self.read(CLIENT_ASSERTION), span)));
            return (pairs, None);
        }
        if how == "basic" {
            let user = self.required(map, "client_id", "for `client_auth: basic`", span);
            let pass = self.required(map, "client_secret", "for `client_auth: basic`", span);
            let auth = match (user, pass) {
                (Some(username), Some(password)) => Some(AuthSpec::Basic { username, password }),
                _ => None,
            };
            return (Vec::new(), auth);
        }
        let pairs = ["client_id", "client_secret"]
            .into_iter()
            .filter_map(|k| field(map, k).map(|n| (key(k, n.span), n.clone())))
            .collect();
        (pairs, None)
    }

    /// The parameters a grant needs (`username`/`password`, `refresh_token`); a
    /// client_credentials grant needs a client id (`has_client`).
    fn grant_params(
        &mut self,
        map: &[(Key, Node)],
        grant: &str,
        at: Span,
        has_client: bool,
    ) -> Vec<(Key, Node)> {
        let needed: &[&str] = match grant {
            "password" => &["username", "password"],
            "refresh_token" => &["refresh_token"],
            "token_exchange" => &["subject_token"],
            "jwt_bearer" | "authorization_code" => &[],
            "device_code" => {
                if !has_client {
                    self.required(map, "client_id", "for the device_code grant", at);
                }
                &[]
            }
            _ => {
                if !has_client {
                    self.required(map, "client_id", "for the client_credentials grant", at);
                }
                &[]
            }
        };
        let why = format!("for the {grant} grant");
        needed
            .iter()
            .filter_map(|name| self.required(map, name, &why, at).map(|n| (key(name, n.span), n)))
            .collect()
    }

    /// The captures of a token answer (the token, its type, lifetime and refresh token,
    /// beside `token_path`) and where its lifetime comes from.
    fn token_captures(&mut self, map: &[(Key, Node)], span: Span) -> (Vec<CaptureSpec>, Option<Expiry>) {
        let token_path_node = field(map, "token_path");
        let token_path = token_path_node
            .and_then(|n| self.string(n, "token_path"))
            .unwrap_or_else(|| "$.access_token".to_string());
        // Without `token_path:` a missing token points at the profile's `oauth2:` key.
        let at = token_path_node.map_or(span, |n| n.span);
        let token = self.capture(&self.var(ACCESS_TOKEN), &token_path, at, true, false).map(|mut c| {
            c.implied = Some(match token_path_node {
                Some(_) => format!("the access token, read at `token_path: {token_path}`"),
                None => format!("the access token, read at the default `token_path: {token_path}`"),
            });
            c
        });
        let captures = [
            token,
            self.capture(&self.var(TOKEN_TYPE), &sibling(&token_path, "token_type"), at, false, true),
            self.capture(&self.var(EXPIRES_IN), &sibling(&token_path, "expires_in"), at, false, true),
            self.capture(&self.var(REFRESH_TOKEN), &sibling(&token_path, "refresh_token"), at, true, true),
        ]
        .into_iter()
        .flatten()
        .collect();
        let expires_in =
            self.jsonpath(&sibling(&token_path, "expires_in"), at).map(|p: Compiled<_>| Expiry::JsonPath(p));
        (captures, expires_in)
    }
}

/// The token request's parameters, sent as the profile's `body_format` says.
/// The token request of a device grant polls until a token comes (200), stopping at once
/// on `access_denied` or `expired_token`; `authorization_pending` and `slow_down` go on.
fn device_poll(p: &mut Parser<'_>, at: Span) -> Option<crate::model::RetrySpec> {
    use crate::model::{Check, Matcher, RetrySpec, StatusExpect, StatusPattern};
    let error = p.jsonpath("$.error", at)?;
    let pattern = "^(access_denied|expired_token)$";
    let refused = regex::Regex::new(pattern).ok()?;
    let matcher = Matcher {
        checks: vec![Check::Matches(Compiled { compiled: refused, source: pattern.into(), span: at })],
        span: at,
    };
    let fail_if = Expect { json: vec![(error, matcher)], ..Expect::default() };
    let until = Expect {
        status: Some(StatusExpect { allowed: vec![StatusPattern::Code(200)], span: at }),
        ..Expect::default()
    };
    Some(RetrySpec {
        count: 100,
        interval: std::time::Duration::from_secs(5),
        until: Some(until),
        fail_if: Some(fail_if),
        span: at,
        device: true,
    })
}

fn with_params(mut step: Step, pairs: Vec<(Key, Node)>, format: &str) -> Step {
    let span = step.span;
    match format {
        "query" => step.query = pairs,
        "json" => step.body = Some(Body::Json(Node { value: Value::Map(pairs), span })),
        _ => step.body = Some(Body::Form(pairs)),
    }
    step
}

#[cfg(test)]
mod tests {
    use crate::model::{AuthSpec, Body, Role};
    use crate::testing::Fixture;

    fn profile(body: &str) -> Fixture {
        Fixture::new(&format!("auth:\n  oauth2:\n{body}requests:\n  - url: http://h/me\n"))
    }

    #[test]
    fn a_profile_becomes_a_token_step_and_a_refresh_only_step() {
        let f = profile(
            "    token_url: http://h/token\n    client_id: app\n    client_secret: cs\n    scope: read\n",
        );
        let auth = &f.collection.auth;
        assert_eq!(auth.len(), 2);
        assert_eq!(
            (auth[0].name.as_str(), auth[0].method.as_str(), auth[0].role),
            ("oauth2", "POST", Role::Auth)
        );
        let Some(Body::Form(pairs)) = &auth[0].body else { panic!("form body") };
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["grant_type", "client_id", "client_secret", "scope"]);
        assert!(auth[1].lifecycle.refresh_only && auth[1].name == "oauth2 refresh");
        let captured: Vec<&str> = auth[0].captures.iter().map(|c| c.name.name.as_str()).collect();
        assert_eq!(captured, ["access_token", "token_type", "expires_in", "refresh_token"]);
    }

    #[test]
    fn basic_client_auth_sends_credentials_in_the_header_not_the_body() {
        let f = profile(
            "    token_url: http://h/token\n    client_auth: basic\n    client_id: app\n    client_secret: cs\n",
        );
        let step = &f.collection.auth[0];
        assert!(matches!(step.auth, Some(AuthSpec::Basic { .. })));
        let Some(Body::Form(pairs)) = &step.body else { panic!("form body") };
        assert!(pairs.iter().all(|(k, _)| !k.name.starts_with("client_")), "{pairs:?}");
    }

    #[test]
    fn query_format_sends_a_get_with_parameters_and_token_fields_sit_beside_the_token_path() {
        let f = profile(
            "    token_url: http://h/token\n    body_format: query\n    client_id: app\n    token_path: $.data.token\n    grant: refresh_token\n    refresh_token: rt\n",
        );
        let step = &f.collection.auth[0];
        assert_eq!(f.collection.auth.len(), 2, "renewal sends the refresh token issued last");
        assert!(f.collection.auth[1].lifecycle.refresh_only);
        assert_eq!(step.method, "GET");
        assert!(step.body.is_none() && step.query.iter().any(|(k, _)| k.name == "refresh_token"));
        let sources: Vec<String> = step.captures.iter().map(|c| c.source.to_string()).collect();
        assert_eq!(
            sources,
            ["$.data.token", "$.data.token_type", "$.data.expires_in", "$.data.refresh_token"]
        );
    }

    #[test]
    fn a_profile_missing_what_its_grant_needs_says_so() {
        let mut map = crate::source::SourceMap::default();
        let text = "auth:\n  oauth2:\n    token_url: http://h/t\n    grant: password\n    client_id: app\nrequests: []\n";
        let id = map.add("t.yaml", text.to_string());
        let file = map.get(id).expect("file");
        let node = crate::yaml::parse(file, id).expect("yaml");
        let errs = super::super::parse_collection(&node, id, text, "t").expect_err("invalid");
        let messages: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "the oauth2 profile needs `username:` for the password grant",
                "the oauth2 profile needs `password:` for the password grant"
            ]
        );
        assert!(errs.iter().all(|d| d.code == "missing-field"));
    }

    #[test]
    fn a_misspelled_grant_gets_a_did_you_mean() {
        let mut map = crate::source::SourceMap::default();
        let text = "auth:\n  oauth2:\n    token_url: http://h/t\n    grant: client_credential\n    client_id: a\nrequests: []\n";
        let id = map.add("t.yaml", text.to_string());
        let node = crate::yaml::parse(map.get(id).expect("file"), id).expect("yaml");
        let errs = super::super::parse_collection(&node, id, text, "t").expect_err("invalid");
        assert_eq!(errs[0].code, "bad-value");
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `client_credentials`?"));
    }
}
