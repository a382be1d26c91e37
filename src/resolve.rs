//! Rendering a compiled step into the request it sends: pure, no I/O.
//!
//! The executor sends what this returns; `baton plan` prints it. The step already carries
//! the collection's defaults and its credentials (validation folded them in), so the
//! request depends only on the step, the variables and the collection's folder.

use std::path::Path;

use serde_json::Value as Json;

use crate::assert::as_text;
use crate::exchange::{ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::model::{AuthSpec, Body, PartKind, oauth2_vars};
use crate::plan::CompiledStep;
use crate::secret::{Masker, basic_credential, is_secret_name, register_secret_fields};
use crate::source::Key;
use crate::template::{RenderCause, RenderContext, RenderError, Template};

/// Headers whose values are credentials; they are always masked and never part of a
/// request's identity.
pub const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "cookie2", "x-api-key", "api-key"];

/// Whether a header carries a credential by its name: one of [`SENSITIVE_HEADERS`], or a
/// secret-looking name (`x-auth-token`). Its value is masked, and it never follows a
/// redirect or a capture to another origin.
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_HEADERS.contains(&lower.as_str()) || is_secret_name(&lower)
}

/// `scheme://host:port` of an http(s) URL, when it has one (what credentials are bound to).
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    (origin.is_tuple() && matches!(parsed.scheme(), "http" | "https")).then(|| origin.ascii_serialization())
}

/// Renders `step` with `ctx`; secrets met on the way (credentials, secret-named fields)
/// are registered with `masker` before anything can print them.
pub fn resolve(
    step: &CompiledStep<'_>,
    ctx: &RenderContext<'_>,
    base_dir: &Path,
    masker: &Masker,
) -> Result<ResolvedRequest, RenderError> {
    let mut query = Vec::new();
    render_pairs(&step.query, ctx, &mut query)?;
    let url = with_query(ctx.text(&step.url, "url")?, &query);
    let mut headers = Vec::new();
    render_pairs(&step.headers, ctx, &mut headers)?;
    if let Some(auth) = &step.auth
        && let Some(value) = credentials(auth, step, ctx, masker)?
    {
        headers.push(("Authorization".into(), value));
    }
    for (name, value) in &headers {
        if is_credential_header(name) {
            let token = value.split_once(' ').map_or(value.as_str(), |(_, t)| t);
            masker.add(token);
        }
    }
    // Credentials in parameters and bodies (`password=…`, `client_secret`) never print.
    query.iter().filter(|(k, _)| is_secret_name(k)).for_each(|(_, v)| masker.add(v));
    let body = match &step.body {
        None => ResolvedBody::None,
        Some(b) => body(b, ctx, base_dir)?,
    };
    register_body_secrets(&body, masker);
    let secret_headers = headers
        .iter()
        .filter(|(_, v)| masker.contains_secret(v))
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    Ok(ResolvedRequest {
        method: step.method.clone(),
        url,
        headers,
        body,
        timeout: step.timeout,
        secret_headers,
        redirects: step.redirects,
        tls: tls_choice(step, ctx, base_dir)?,
        signing: signing(step.auth.as_ref(), ctx, masker)?,
    })
}

/// Appends the rendered query to `url`, before any `#fragment`.
fn with_query(url: String, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url;
    }
    let (base, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url.as_str(), ""),
    };
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') { "" } else { "&" }
    } else {
        "?"
    };
    let qs = form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    format!("{base}{sep}{qs}{fragment}")
}

/// The `Authorization` value a credential shorthand sends.
fn credentials(
    auth: &AuthSpec<Template<'_>>,
    step: &CompiledStep<'_>,
    ctx: &RenderContext<'_>,
    masker: &Masker,
) -> Result<Option<String>, RenderError> {
    Ok(match auth {
        AuthSpec::Bearer(t) => {
            let token = ctx.text(t, "bearer")?;
            masker.add(&token);
            Some(format!("Bearer {token}"))
        }
        AuthSpec::Basic { username, password } => {
            let user = ctx.text(username, "basic.username")?;
            let pass = ctx.text(password, "basic.password")?;
            masker.add(&pass);
            let cred = basic_credential(&user, &pass);
            masker.add(&cred);
            Some(format!("Basic {cred}"))
        }
        AuthSpec::OAuth2(profile) => {
            let name = oauth2_vars::of(profile.as_deref(), oauth2_vars::ACCESS_TOKEN);
            let token = ctx.var(&name).map(|v| v.to_string()).ok_or_else(|| RenderError {
                span: step.name_span,
                message: "no OAuth2 access token yet".into(),
                cause: RenderCause::Undefined(name.clone()),
            })?;
            masker.add(&token);
            let token_type = ctx.var(&oauth2_vars::of(profile.as_deref(), oauth2_vars::TOKEN_TYPE));
            Some(format!("{} {token}", scheme(token_type)))
        }
        AuthSpec::None | AuthSpec::Digest { .. } | AuthSpec::AwsSigV4 { .. } => None,
    })
}

/// Digest and SigV4 credentials, rendered (their secrets registered for masking).
fn signing(
    auth: Option<&AuthSpec<Template<'_>>>,
    ctx: &RenderContext<'_>,
    masker: &Masker,
) -> Result<Option<crate::exchange::Signing>, RenderError> {
    use crate::exchange::Signing;
    Ok(match auth {
        Some(AuthSpec::Digest { username, password }) => {
            let password = ctx.text(password, "digest.password")?;
            masker.add(&password);
            Some(Signing::Digest { username: ctx.text(username, "digest.username")?, password })
        }
        Some(AuthSpec::AwsSigV4 { access_key, secret_key, region, service, session_token }) => {
            let secret_key = ctx.text(secret_key, "aws_sigv4.secret_key")?;
            masker.add(&secret_key);
            let session_token =
                session_token.as_ref().map(|t| ctx.text(t, "aws_sigv4.session_token")).transpose()?;
            if let Some(t) = &session_token {
                masker.add(t);
            }
            Some(Signing::SigV4(crate::signing::AwsCredentials {
                access_key: ctx.text(access_key, "aws_sigv4.access_key")?,
                secret_key,
                region: ctx.text(region, "aws_sigv4.region")?,
                service: ctx.text(service, "aws_sigv4.service")?,
                session_token,
            }))
        }
        _ => None,
    })
}

/// The issued `token_type` as an HTTP scheme: `bearer` (any case) becomes `Bearer`,
/// other schemes are sent as issued, none means `Bearer`.
fn scheme(token_type: Option<minijinja::Value>) -> String {
    match token_type.map(|v| v.to_string()) {
        Some(t) if t.eq_ignore_ascii_case("bearer") || t.trim().is_empty() => "Bearer".into(),
        Some(t) => t,
        None => "Bearer".into(),
    }
}

/// A rendered value that must be text (URL, header…); null means "leave out".
fn scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        other => Some(as_text(other)),
    }
}

/// Renders name/value pairs; a list repeats the name, null leaves the pair out.
fn render_pairs(
    pairs: &[(Key, Template<'_>)],
    ctx: &RenderContext<'_>,
    out: &mut Vec<(String, String)>,
) -> Result<(), RenderError> {
    for (k, t) in pairs {
        match ctx.render(t)? {
            Json::Array(items) => {
                out.extend(items.iter().filter_map(scalar_text).map(|v| (k.name.clone(), v)))
            }
            v => out.extend(scalar_text(&v).map(|v| (k.name.clone(), v))),
        }
    }
    Ok(())
}

fn body(
    b: &Body<Template<'_>>,
    ctx: &RenderContext<'_>,
    base_dir: &Path,
) -> Result<ResolvedBody, RenderError> {
    Ok(match b {
        Body::Json(t) => ResolvedBody::Json(ctx.render(t)?),
        Body::Form(pairs) => {
            let mut out = Vec::new();
            render_pairs(pairs, ctx, &mut out)?;
            ResolvedBody::Form(out)
        }
        Body::Raw { body, content_type } => ResolvedBody::Raw {
            text: ctx.text(body, "body")?,
            content_type: content_type.as_ref().map(|t| ctx.text(t, "content_type")).transpose()?,
        },
        Body::Literal { text, content_type } => ResolvedBody::Raw {
            text: text.clone(),
            content_type: content_type.as_ref().map(|t| ctx.text(t, "content_type")).transpose()?,
        },
        Body::File { path, content_type } => {
            let rel = ctx.text(path, "file")?;
            let content_type = match content_type {
                Some(t) => ctx.text(t, "content_type")?,
                None => guess_type(&rel),
            };
            ResolvedBody::File { path: base_dir.join(&rel), content_type }
        }
        Body::Multipart(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                out.push(match &p.kind {
                    PartKind::Text(t) => ResolvedPart::Text {
                        name: p.name.name.clone(),
                        value: ctx.text(t, "multipart field")?,
                    },
                    PartKind::File { path, filename, content_type } => {
                        let rel = ctx.text(path, "file")?;
                        let filename = match filename {
                            Some(f) => ctx.text(f, "filename")?,
                            None => Path::new(&rel)
                                .file_name()
                                .map_or_else(|| rel.clone(), |f| f.to_string_lossy().into_owned()),
                        };
                        ResolvedPart::File {
                            name: p.name.name.clone(),
                            path: base_dir.join(&rel),
                            filename,
                            content_type: match content_type {
                                Some(t) => Some(ctx.text(t, "content_type")?),
                                None => Some(guess_type(&rel)),
                            },
                        }
                    }
                });
            }
            ResolvedBody::Multipart(out)
        }
    })
}

/// The step's TLS and HTTP settings with their paths rendered, relative to the collection.
fn tls_choice(
    step: &CompiledStep<'_>,
    ctx: &RenderContext<'_>,
    base_dir: &Path,
) -> Result<Option<crate::exchange::TlsChoice>, RenderError> {
    if step.tls.is_none() && step.http.is_none() {
        return Ok(None);
    }
    let path = |t: &Option<Template<'_>>, what: &str| -> Result<Option<std::path::PathBuf>, RenderError> {
        t.as_ref().map(|t| ctx.text(t, what).map(|p| base_dir.join(p))).transpose()
    };
    let mut choice = crate::exchange::TlsChoice { http: step.http, ..Default::default() };
    if let Some(tls) = &step.tls {
        choice.insecure = tls.insecure;
        choice.ca = path(&tls.ca, "tls.ca")?;
        if let (Some(cert), Some(key)) = (path(&tls.cert, "tls.cert")?, path(&tls.key, "tls.key")?) {
            choice.identity = Some((cert, key));
        }
    }
    Ok(Some(choice))
}

/// The media type a file's extension suggests (`application/octet-stream` when none).
fn guess_type(path: &str) -> String {
    mime_guess::from_path(path).first_or_octet_stream().essence_str().to_string()
}

fn register_body_secrets(body: &ResolvedBody, masker: &Masker) {
    match body {
        ResolvedBody::Json(doc) => register_secret_fields(masker, doc),
        ResolvedBody::Form(pairs) => {
            pairs.iter().filter(|(k, _)| is_secret_name(k)).for_each(|(_, v)| masker.add(v))
        }
        ResolvedBody::Multipart(parts) => {
            for p in parts {
                if let ResolvedPart::Text { name, value } = p
                    && is_secret_name(name)
                {
                    masker.add(value);
                }
            }
        }
        ResolvedBody::Raw { .. } | ResolvedBody::File { .. } | ResolvedBody::None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::testing::Fixture;

    /// Resolves request `name` of `yaml`, with `extra` variables (captured values).
    fn resolved(f: &Fixture, name: &str, extra: &[(&str, serde_json::Value)]) -> ResolvedRequest {
        let plan = f.valid();
        let step = &plan.steps.iter().find(|ps| ps.step.name == name).expect("step").step;
        let ctx = f.context(&plan, extra);
        resolve(step, &ctx, Path::new("/base"), &f.masker).expect("resolves")
    }

    fn header<'r>(r: &'r ResolvedRequest, name: &str) -> Vec<&'r str> {
        r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn step_headers_replace_defaults_of_the_same_name_in_any_case() {
        let f = Fixture::new(
            "defaults:\n  headers: {Accept: text/plain, X-Team: core}\nrequests:\n  - name: a\n    url: http://h/a\n    headers: {accept: application/json}\n",
        );
        let r = resolved(&f, "a", &[]);
        assert_eq!(header(&r, "accept"), ["application/json"]);
        assert_eq!(header(&r, "x-team"), ["core"]);
    }

    #[test]
    fn null_on_a_step_removes_the_default() {
        let f = Fixture::new(
            "defaults:\n  headers: {X-Trace: on}\n  query: {debug: '1'}\nrequests:\n  - name: a\n    url: http://h/a\n    headers: {X-Trace: null}\n    query: {debug: null}\n",
        );
        let r = resolved(&f, "a", &[]);
        assert!(header(&r, "x-trace").is_empty(), "{:?}", r.headers);
        assert_eq!(r.url, "http://h/a");
    }

    #[test]
    fn list_values_repeat_the_name_and_query_goes_before_the_fragment() {
        let f = Fixture::new(
            "requests:\n  - name: a\n    url: 'http://h/a?x=1#top'\n    query: {tag: [red, blue], q: 'a b'}\n",
        );
        assert_eq!(resolved(&f, "a", &[]).url, "http://h/a?x=1&tag=red&tag=blue&q=a+b#top");
    }

    #[test]
    fn default_bearer_goes_to_requests_but_not_to_auth_steps() {
        let f = Fixture::new(
            "defaults:\n  bearer: '{{ token }}'\nauth:\n  - name: login\n    url: http://h/login\n    capture: {token: $.t}\nrequests:\n  - name: a\n    url: http://h/a\n",
        );
        assert!(header(&resolved(&f, "login", &[]), "authorization").is_empty());
        let r = resolved(&f, "a", &[("token", "tok-123".into())]);
        assert_eq!(header(&r, "authorization"), ["Bearer tok-123"]);
        assert_eq!(f.masker.mask("tok-123"), crate::secret::MASK, "the token is registered as a secret");
    }

    #[test]
    fn bearer_null_and_an_own_authorization_header_each_drop_the_default_credentials() {
        let f = Fixture::new(
            "defaults:\n  bearer: abc\nrequests:\n  - name: none\n    url: http://h/a\n    bearer: null\n  - name: own\n    url: http://h/b\n    headers: {Authorization: Token xyz}\n",
        );
        assert!(header(&resolved(&f, "none", &[]), "authorization").is_empty());
        assert_eq!(header(&resolved(&f, "own", &[]), "authorization"), ["Token xyz"]);
    }

    #[test]
    fn basic_credentials_are_encoded_and_masked() {
        let f = Fixture::new(
            "requests:\n  - name: a\n    url: http://h/a\n    basic: {username: ann, password: s3cr3t-pw}\n",
        );
        let r = resolved(&f, "a", &[]);
        assert_eq!(header(&r, "authorization"), ["Basic YW5uOnMzY3IzdC1wdw=="]);
        assert_eq!(f.masker.mask("s3cr3t-pw YW5uOnMzY3IzdC1wdw=="), format!("{0} {0}", crate::secret::MASK));
    }

    #[test]
    fn issued_token_types_become_the_authorization_scheme() {
        assert_eq!(scheme(Some("bearer".into())), "Bearer");
        assert_eq!(scheme(Some("".into())), "Bearer");
        assert_eq!(scheme(None), "Bearer");
        assert_eq!(scheme(Some("MAC".into())), "MAC");
    }

    #[test]
    fn multipart_files_resolve_against_the_collection_folder() {
        let f = Fixture::new(
            "requests:\n  - name: up\n    method: POST\n    url: http://h/up\n    multipart:\n      note: hello\n      doc: {file: data/report.csv}\n      pic: {file: a.png, filename: avatar.png, content_type: image/png}\n",
        );
        let r = resolved(&f, "up", &[]);
        let ResolvedBody::Multipart(parts) = &r.body else { panic!("multipart: {:?}", r.body) };
        assert!(
            matches!(&parts[0], ResolvedPart::Text { name, value } if name == "note" && value == "hello")
        );
        match &parts[1] {
            ResolvedPart::File { path, filename, content_type, .. } => {
                assert_eq!(path, Path::new("/base/data/report.csv"));
                assert_eq!(filename, "report.csv");
                assert_eq!(content_type.as_deref(), Some("text/csv"), "guessed from the extension");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&parts[2], ResolvedPart::File { filename, content_type: Some(ct), .. }
            if filename == "avatar.png" && ct == "image/png"));
    }

    #[test]
    fn secret_named_form_fields_and_query_parameters_are_masked() {
        let f = Fixture::new(
            "requests:\n  - name: t\n    method: POST\n    url: http://h/t\n    query: {api_key: q-key-999}\n    form: {client_id: app, client_secret: cs-777}\n",
        );
        let r = resolved(&f, "t", &[]);
        assert!(matches!(&r.body, ResolvedBody::Form(p) if p.len() == 2));
        assert_eq!(f.masker.mask("q-key-999 cs-777 app"), format!("{0} {0} app", crate::secret::MASK));
    }

    #[test]
    fn a_url_that_renders_to_an_object_is_an_error_at_the_url() {
        let f = Fixture::new("vars:\n  where: {a: 1}\nrequests:\n  - name: a\n    url: '{{ where }}'\n");
        let plan = f.valid();
        let ctx = f.context(&plan, &[]);
        let e = resolve(plan.step(0), &ctx, Path::new("."), &f.masker).expect_err("not text");
        assert_eq!(e.cause, RenderCause::WrongType);
        assert!(e.message.contains("`url` must render to text"), "{}", e.message);
        assert_eq!(e.span, plan.step(0).url.span());
    }

    #[test]
    fn headers_holding_a_secret_are_marked_whatever_their_names() {
        let f = Fixture::new(
            "auth:\n  - name: login\n    url: http://h/login\n    capture: {token: $.t}\nrequests:\n  - name: a\n    url: http://h/a\n    headers: {X-Session: '{{ token }}', X-Plain: visible}\n",
        );
        f.masker.add("sess-123456");
        let r = resolved(&f, "a", &[("token", "sess-123456".into())]);
        assert_eq!(r.secret_headers, ["x-session"]);
    }

    #[test]
    fn the_default_timeout_applies_unless_the_step_sets_one() {
        let f = Fixture::new(
            "defaults:\n  timeout: 5s\nrequests:\n  - name: a\n    url: http://h/a\n  - name: b\n    url: http://h/b\n    timeout: 1s\n",
        );
        assert_eq!(resolved(&f, "a", &[]).timeout, Some(std::time::Duration::from_secs(5)));
        assert_eq!(resolved(&f, "b", &[]).timeout, Some(std::time::Duration::from_secs(1)));
    }
}
