//! Template slots: mapping every templated value of a step, and merging in the defaults.
//!
//! Each `map` destructures its type completely (no `..`), so a field added to a model
//! type does not compile until it is handled here, and validation, which compiles steps
//! through these maps, can never leave a templated field uncompiled.

use super::{
    AuthSpec, AuthorizeRequest, Body, BodyExpect, CaptureSpec, Check, ClientAssertion, Condition, Defaults,
    DeviceRequest, Expect, Matcher, Part, PartKind, RetrySpec, Role, Step, TlsSpec,
};
use crate::source::Key;

fn pairs<'s, T, U>(items: &'s [(Key, T)], f: &mut impl FnMut(&'s T) -> U) -> Vec<(Key, U)> {
    items.iter().map(|(k, v)| (k.clone(), f(v))).collect()
}

impl<T> Step<T> {
    /// The same step with every template slot mapped by `f`, in source order.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Step<U> {
        let Step {
            name,
            named,
            name_span,
            role,
            method,
            url,
            query,
            headers,
            body,
            auth,
            timeout,
            captures,
            expect,
            span,
            lifecycle,
            snapshot,
            tags,
            retry,
            description,
            condition,
            delay,
            wait,
            redirects,
            repeat,
            tls,
            http,
            device,
            assertion,
            profile,
            authorize,
        } = self;
        Step {
            name: name.clone(),
            named: *named,
            name_span: *name_span,
            role: *role,
            method: method.clone(),
            url: f(url),
            query: pairs(query, f),
            headers: pairs(headers, f),
            auth: auth.as_ref().map(|a| a.map(f)),
            body: body.as_ref().map(|b| b.map(f)),
            timeout: *timeout,
            captures: captures.iter().map(|c| c.map(f)).collect(),
            expect: expect.map(f),
            span: *span,
            lifecycle: lifecycle.clone(),
            snapshot: snapshot.clone(),
            tags: tags.clone(),
            retry: retry.as_ref().map(|r| r.map(f)),
            description: description.clone(),
            condition: condition.as_ref().map(|c| Condition { when: f(&c.when), skip_if: c.skip_if }),
            delay: *delay,
            wait: *wait,
            redirects: *redirects,
            repeat: *repeat,
            tls: tls.as_ref().map(|t| t.map(f)),
            http: *http,
            device: device.as_ref().map(|d| DeviceRequest { url: f(&d.url), fields: pairs(&d.fields, f) }),
            assertion: assertion.as_ref().map(|a| ClientAssertion {
                alg: a.alg.clone(),
                client_id: f(&a.client_id),
                key: f(&a.key),
                key_id: a.key_id.as_ref().map(&mut *f),
                claims: pairs(&a.claims, f),
            }),
            profile: profile.clone(),
            authorize: authorize.as_ref().map(|a| AuthorizeRequest {
                url: f(&a.url),
                fields: pairs(&a.fields, f),
                redirect_uri: a.redirect_uri.as_ref().map(&mut *f),
                wait: a.wait,
                span: a.span,
            }),
        }
    }
}

impl<T> CaptureSpec<T> {
    /// The same capture with its `then` template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> CaptureSpec<U> {
        let CaptureSpec { name, source, secret, optional, implied, then } = self;
        CaptureSpec {
            name: name.clone(),
            source: source.clone(),
            secret: *secret,
            optional: *optional,
            implied: implied.clone(),
            then: then.as_ref().map(&mut *f),
        }
    }
}

impl<T> TlsSpec<T> {
    /// The same settings with each path template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> TlsSpec<U> {
        let TlsSpec { insecure, ca, cert, key, span } = self;
        TlsSpec {
            insecure: *insecure,
            ca: ca.as_ref().map(&mut *f),
            cert: cert.as_ref().map(&mut *f),
            key: key.as_ref().map(&mut *f),
            span: *span,
        }
    }
}

impl<'n, T> Step<&'n T> {
    /// Folds the collection's defaults into this step, so it says everything it sends.
    /// A request gets the default query and headers unless it names them (a step's `null`
    /// removes the default, and the default is then not part of the step at all) and the
    /// credentials it sends (`oauth2`: the collection has an OAuth2 profile). Auth steps
    /// get none of these: API keys, `Origin` or a header built from a token never reach
    /// the identity provider, and a default may read what the auth steps capture. Every
    /// step gets the default timeout (nothing a server sees). `oauth2`: the OAuth2 profile
    /// whose token the request sends unless it names credentials (`Some(None)`: the
    /// single profile).
    pub fn with_defaults(mut self, defaults: &'n Defaults<T>, oauth2: Option<Option<&str>>) -> Self {
        let Defaults { headers, query, auth, timeout, redirects, tls, http } = defaults;
        self.timeout = self.timeout.or(*timeout);
        self.redirects = self.redirects.or(*redirects);
        if self.tls.is_none() {
            self.tls = tls.as_ref().map(|t| t.map(&mut |n| n));
        }
        self.http = self.http.or(*http);
        let own_authorization =
            self.headers.iter().any(|(k, _)| k.name.eq_ignore_ascii_case("authorization"));
        if self.role == Role::Request {
            self.query = merged(query, self.query, false);
            self.headers = merged(headers, self.headers, true);
        }
        if self.role == Role::Request && self.auth.is_none() {
            // A profile the request chose (`auth: admin`) wins over the default credentials.
            let chosen = self.profile.is_some();
            self.auth = match auth {
                Some(a) if !chosen => Some(a.map(&mut |n| n)),
                _ => oauth2.map(|p| AuthSpec::OAuth2(p.map(str::to_string))),
            };
        }
        // An `Authorization:` header written on the step wins over any credential shorthand.
        if own_authorization || matches!(self.auth, Some(AuthSpec::None)) {
            self.auth = None;
        }
        self
    }
}

/// Default pairs the step does not name, then the step's own.
fn merged<'n, T>(
    defaults: &'n [(Key, T)],
    own: Vec<(Key, &'n T)>,
    case_insensitive: bool,
) -> Vec<(Key, &'n T)> {
    let same = |a: &str, b: &str| if case_insensitive { a.eq_ignore_ascii_case(b) } else { a == b };
    let mut out: Vec<(Key, &'n T)> = defaults
        .iter()
        .filter(|(k, _)| !own.iter().any(|(o, _)| same(&o.name, &k.name)))
        .map(|(k, v)| (k.clone(), v))
        .collect();
    out.extend(own);
    out
}

impl<T> AuthSpec<T> {
    /// The same credentials with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> AuthSpec<U> {
        match self {
            AuthSpec::Bearer(t) => AuthSpec::Bearer(f(t)),
            AuthSpec::Basic { username, password } => {
                AuthSpec::Basic { username: f(username), password: f(password) }
            }
            AuthSpec::None => AuthSpec::None,
            AuthSpec::OAuth2(p) => AuthSpec::OAuth2(p.clone()),
            AuthSpec::Digest { username, password } => {
                AuthSpec::Digest { username: f(username), password: f(password) }
            }
            AuthSpec::AwsSigV4 { access_key, secret_key, region, service, session_token } => {
                AuthSpec::AwsSigV4 {
                    access_key: f(access_key),
                    secret_key: f(secret_key),
                    region: f(region),
                    service: f(service),
                    session_token: session_token.as_ref().map(&mut *f),
                }
            }
        }
    }
}

impl<T> Body<T> {
    /// The same body with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Body<U> {
        match self {
            Body::Json(t) => Body::Json(f(t)),
            Body::Form(items) => Body::Form(pairs(items, f)),
            Body::Multipart(parts) => Body::Multipart(parts.iter().map(|p| p.map(f)).collect()),
            Body::Raw { body, content_type } => {
                Body::Raw { body: f(body), content_type: content_type.as_ref().map(&mut *f) }
            }
            Body::Literal { text, content_type } => {
                Body::Literal { text: text.clone(), content_type: content_type.as_ref().map(&mut *f) }
            }
            Body::File { path, content_type } => {
                Body::File { path: f(path), content_type: content_type.as_ref().map(&mut *f) }
            }
        }
    }
}

impl<T> Part<T> {
    /// The same part with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Part<U> {
        let Part { name, kind } = self;
        let kind = match kind {
            PartKind::Text(t) => PartKind::Text(f(t)),
            PartKind::File { path, filename, content_type } => PartKind::File {
                path: f(path),
                filename: filename.as_ref().map(&mut *f),
                content_type: content_type.as_ref().map(&mut *f),
            },
        };
        Part { name: name.clone(), kind }
    }
}

impl<T> Expect<T> {
    /// The same expectations with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Expect<U> {
        let Expect {
            status,
            headers,
            json,
            body_contains,
            content_type,
            cookies,
            duration,
            json_schema,
            body,
        } = self;
        Expect {
            status: status.clone(),
            headers: headers.iter().map(|(k, m)| (k.clone(), m.map(f))).collect(),
            json: json.iter().map(|(p, m)| (p.clone(), m.map(f))).collect(),
            body_contains: body_contains.iter().map(&mut *f).collect(),
            content_type: content_type.as_ref().map(&mut *f),
            cookies: cookies.iter().map(|(k, m)| (k.clone(), m.map(f))).collect(),
            duration: duration.clone(),
            json_schema: json_schema.clone(),
            body: body.as_ref().map(|b| match b {
                BodyExpect::Matcher(m) => BodyExpect::Matcher(m.map(f)),
                BodyExpect::File(file) => BodyExpect::File(file.clone()),
            }),
        }
    }
}

impl<T> Matcher<T> {
    /// The same matcher with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Matcher<U> {
        let Matcher { checks, span } = self;
        Matcher { checks: checks.iter().map(|c| c.map(f)).collect(), span: *span }
    }
}

impl<T> Check<T> {
    /// The same check with its template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> Check<U> {
        match self {
            Check::Equals(t) => Check::Equals(f(t)),
            Check::Exists(b) => Check::Exists(*b),
            Check::Matches(r) => Check::Matches(r.clone()),
            Check::Len(t) => Check::Len(f(t)),
            Check::LenMatches(m) => Check::LenMatches(Box::new(m.map(f))),
            Check::Each(m) => Check::Each(Box::new(m.map(f))),
            Check::Compare(op, t) => Check::Compare(*op, f(t)),
            Check::Contains(t) => Check::Contains(f(t)),
            Check::Type(t, span) => Check::Type(*t, *span),
        }
    }
}

impl<T> RetrySpec<T> {
    /// The same polling settings with each template mapped.
    pub fn map<'s, U>(&'s self, f: &mut impl FnMut(&'s T) -> U) -> RetrySpec<U> {
        let RetrySpec { count, interval, until, fail_if, span, device } = self;
        RetrySpec {
            count: *count,
            interval: *interval,
            until: until.as_ref().map(|e| e.map(f)),
            fail_if: fail_if.as_ref().map(|e| e.map(f)),
            span: *span,
            device: *device,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{AuthSpec, Body, Check};
    use crate::testing::Fixture;

    #[test]
    fn map_visits_every_templated_value_in_a_step() {
        let f = Fixture::new(
            "requests:\n  - url: u\n    query: {q: q}\n    headers: {h: h}\n    basic: {username: bu, password: bp}\n    multipart:\n      t: t\n      f: {file: fp, filename: fn, content_type: fc}\n    expect:\n      headers: {x: ex}\n      json: {$.a: {equals: eq, len: 1, gt: 2, contains: co}}\n      body_contains: [bc]\n      content_type: ct\n    retry:\n      until: {body_contains: un}\n      fail_if: {body_contains: fi}\n",
        );
        let mut seen = Vec::new();
        let _ = f.collection.requests[0]
            .map(&mut |n| seen.push(n.to_json().to_string().trim_matches('"').to_string()));
        assert_eq!(
            seen,
            [
                "u", "q", "h", "bu", "bp", "t", "fp", "fn", "fc", "ex", "eq", "1", "2", "co", "bc", "ct",
                "un", "fi"
            ]
        );
    }

    #[test]
    fn mapping_keeps_the_shape() {
        let f = Fixture::new(
            "requests:\n  - url: u\n    json: {a: 1}\n    bearer: t\n    expect: {json: {$.a: {type: string}}}\n",
        );
        let mapped = f.collection.requests[0].map(&mut |n| n.span);
        assert!(matches!(mapped.body, Some(Body::Json(_))));
        assert!(matches!(mapped.auth, Some(AuthSpec::Bearer(_))));
        assert!(matches!(mapped.expect.json[0].1.checks[0], Check::Type(..)));
    }

    #[test]
    fn defaults_fold_into_requests_and_auth_steps_keep_their_own_credentials() {
        let f = Fixture::new(
            "defaults:\n  headers: {A: '1'}\n  query: {q: '1'}\n  bearer: tok\n  timeout: 5s\nauth:\n  - url: l\nrequests:\n  - url: u\n",
        );
        let c = &f.collection;
        let auth = c.auth[0].map(&mut |n| n).with_defaults(&c.defaults, None);
        let request = c.requests[0].map(&mut |n| n).with_defaults(&c.defaults, None);
        assert!(
            auth.headers.is_empty() && auth.query.is_empty(),
            "defaults never reach the identity provider"
        );
        assert_eq!(
            auth.timeout,
            Some(std::time::Duration::from_secs(5)),
            "the timeout applies to every step"
        );
        assert_eq!((request.headers.len(), request.query.len()), (1, 1));
        assert!(auth.auth.is_none(), "default credentials are what auth steps establish");
        assert!(matches!(request.auth, Some(AuthSpec::Bearer(_))));
        let none = crate::model::Defaults::default();
        let oauth = c.requests[0].map(&mut |n| n).with_defaults(&none, Some(None));
        assert!(matches!(oauth.auth, Some(AuthSpec::OAuth2(None))));
    }
}
