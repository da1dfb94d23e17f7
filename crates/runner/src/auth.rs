//! Logging in: a suite's `[auth]` posts credentials once before the run
//! (a form or a JSON body), takes the token at a JSON pointer of the
//! answer, and sends it as a header on every request (`Authorization:
//! Bearer {token}`). Credentials come from the environment (`${VAR}`): the
//! ledger keeps the login with its `${VAR}` references, never their values,
//! so `tracesplit cleanup` logs in the same way; a literal value is not
//! recorded at all.

use crate::client::{ApiClient, ClientError};
use crate::tls::TlsOptions;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How to log in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The login path (`/api/v1/login/access-token`).
    pub path: String,
    /// POST (default) or PUT.
    #[serde(default = "post")]
    pub method: String,
    /// Form fields (sent as `application/x-www-form-urlencoded`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub form: BTreeMap<String, String>,
    /// Or a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// JSON pointer to the token in the answer.
    #[serde(default = "access_token")]
    pub token: String,
    /// The header sent with every request, `{token}` the token.
    #[serde(default = "bearer")]
    pub header: String,
}

fn post() -> String {
    "POST".into()
}
fn access_token() -> String {
    "/access_token".into()
}
fn bearer() -> String {
    "Authorization: Bearer {token}".into()
}

/// Logging in failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A `${VAR}` the login uses is not set.
    #[error("[auth] uses ${{{0}}}, which is not set in the environment (export it before the run)")]
    MissingVar(String),
    /// The login was refused (or answered something else than 2xx).
    #[error(
        "the login {method} {url} answered {status}: {body} — check the credentials (the [auth] section and the variables it names)"
    )]
    Refused {
        /// Method.
        method: String,
        /// Login URL.
        url: String,
        /// Status.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// The answer had no token where `token` points.
    #[error(
        "the login answer has no string at {pointer} (set token = \"/…\" to where the API puts it): {body}"
    )]
    NoToken {
        /// The pointer.
        pointer: String,
        /// The start of the answer.
        body: String,
    },
    /// The login could not be sent.
    #[error("cannot reach the login {url}: {error}")]
    Unreachable {
        /// Login URL.
        url: String,
        /// What happened.
        error: String,
    },
    /// `--http2` without TLS to an API that speaks only HTTP/1.1.
    #[error(
        "the login {url} over HTTP/2 without TLS: the API closed the connection on the HTTP/2 preface — it does not speak h2c (HTTP/2 with prior knowledge): drop --http2"
    )]
    NoHttp2 {
        /// Login URL.
        url: String,
    },
    /// The header template does not make a header.
    #[error("[auth] header {0:?} is not 'Name: value with {{token}}'")]
    Header(String),
    /// A literal credential was not recorded: cleanup cannot log in.
    #[error(
        "the run's login used literal values, which are not recorded: pass the header with -H instead"
    )]
    NotRecorded,
    /// The client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Where `${VAR}` values come from (the environment; a map in tests).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
fn environment(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// `text` with every `${VAR}` replaced by the variable's value.
fn expand(text: &str, env: Env<'_>) -> Result<String, AuthError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find('}') else {
            out.push_str(&rest[at..]);
            return Ok(out);
        };
        let var = &rest[at + 2..at + end];
        let value = env(var).ok_or_else(|| AuthError::MissingVar(var.to_owned()))?;
        out.push_str(&value);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every string of `v` expanded.
fn expand_json(v: &serde_json::Value, env: Env<'_>) -> Result<serde_json::Value, AuthError> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => Value::String(expand(s, env)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| expand_json(x, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), expand_json(x, env)?)))
                .collect::<Result<_, AuthError>>()?,
        ),
        other => other.clone(),
    })
}

/// Form encoding of one value.
fn form_encode(out: &mut String, text: &str) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

impl Auth {
    /// The login as the ledger keeps it: `${VAR}` references only; a literal
    /// value (a password written into the suite) is left out.
    pub fn recorded(&self) -> Self {
        let keep = |v: &String| v.contains("${");
        Self {
            form: self
                .form
                .iter()
                .map(|(k, v)| (k.clone(), if keep(v) { v.clone() } else { String::new() }))
                .collect(),
            json: self.json.as_ref().map(redact),
            ..self.clone()
        }
    }

    /// The name of the header the token is sent in (`Authorization`).
    pub fn header_name(&self) -> &str {
        self.header.split_once(':').map_or("", |(n, _)| n.trim())
    }

    /// Whether every credential is a `${VAR}` reference (a recorded login can be replayed).
    pub fn replayable(&self) -> bool {
        self.form.values().all(|v| !v.is_empty())
            && self.json.as_ref().is_none_or(|j| !has_empty(j))
    }

    /// The body and its content type, credentials expanded.
    fn body(&self, env: Env<'_>) -> Result<(Vec<u8>, &'static str), AuthError> {
        if let Some(j) = &self.json {
            return Ok((
                expand_json(j, env)?.to_string().into_bytes(),
                "application/json",
            ));
        }
        let mut out = String::new();
        for (k, v) in &self.form {
            if !out.is_empty() {
                out.push('&');
            }
            form_encode(&mut out, k);
            out.push('=');
            form_encode(&mut out, &expand(v, env)?);
        }
        Ok((out.into_bytes(), "application/x-www-form-urlencoded"))
    }

    /// Logs in; the header to send with every request.
    pub async fn log_in(
        &self,
        base_url: &str,
        headers: &HeaderMap,
        timeout: Duration,
        tls: &TlsOptions,
        http2: bool,
    ) -> Result<(HeaderName, HeaderValue), AuthError> {
        if !self.replayable() {
            return Err(AuthError::NotRecorded);
        }
        let (body, content_type) = self.body(&environment)?;
        // Over the run's HTTP version: an h2c-only API takes no HTTP/1.1.
        let client = ApiClient::with_options(
            base_url,
            headers.clone(),
            timeout,
            1,
            content_type,
            tls,
            http2,
        )?;
        let method =
            Method::from_bytes(self.method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::POST);
        let url = client.url(&self.path);
        let o = client
            .send(method.clone(), &self.path, Some(body.into()), None)
            .await;
        let excerpt = o.body_excerpt();
        if let Some(error) = o.error {
            // A usage error, not an API that is down: its own exit code.
            if error == crate::client::NO_HTTP2 {
                return Err(AuthError::NoHttp2 { url });
            }
            return Err(AuthError::Unreachable { url, error });
        }
        if !(200..300).contains(&o.status) {
            return Err(AuthError::Refused {
                method: method.to_string(),
                url,
                status: o.status,
                body: excerpt,
            });
        }
        let token = serde_json::from_slice::<serde_json::Value>(&o.body)
            .ok()
            .and_then(|v| {
                v.pointer(&self.token)
                    .and_then(|t| t.as_str().map(str::to_owned))
            })
            .ok_or_else(|| AuthError::NoToken {
                pointer: self.token.clone(),
                body: excerpt,
            })?;
        let line = self.header.replace("{token}", &token);
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| AuthError::Header(self.header.clone()))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| AuthError::Header(self.header.clone()))?;
        let mut value = HeaderValue::from_str(value.trim())
            .map_err(|_| AuthError::Header(self.header.clone()))?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// Logging in again when the token expires mid-run: a 401 after the
/// current token was accepted at least once logs in again (once: the
/// requests in flight with the old token do not each log in), and the new
/// header replaces the old on the client. A token refused from the start
/// is a refusal, not an expiry: no login loop.
pub struct Relogin {
    auth: Auth,
    base_url: String,
    headers: HeaderMap,
    timeout: Duration,
    tls: TlsOptions,
    http2: bool,
    accepted: std::sync::atomic::AtomicBool,
    logins: std::sync::atomic::AtomicU64,
}

impl Relogin {
    /// For a run that logged in with `auth` (the user's other `headers` sent with the login).
    pub fn new(
        auth: Auth,
        base_url: &str,
        headers: HeaderMap,
        timeout: Duration,
        tls: TlsOptions,
        http2: bool,
    ) -> Self {
        Self {
            auth,
            base_url: base_url.to_owned(),
            headers,
            timeout,
            tls,
            http2,
            accepted: Default::default(),
            logins: Default::default(),
        }
    }

    /// The current token was accepted (a 2xx answer).
    pub fn accepted(&self) {
        if !self.accepted.load(std::sync::atomic::Ordering::Relaxed) {
            self.accepted
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A 401 arrived: logs in again when the token had been accepted; the
    /// new header goes to `client`. `None` when nothing was done.
    pub async fn on_unauthorized(&self, client: &ApiClient) -> Option<Result<(), AuthError>> {
        if !self
            .accepted
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return None;
        }
        let login = self
            .auth
            .log_in(
                &self.base_url,
                &self.headers,
                self.timeout,
                &self.tls,
                self.http2,
            )
            .await;
        Some(login.map(|(name, value)| {
            client.replace_auth(&name, &value);
            self.logins
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }))
    }

    /// Logins after the first (the token expired that many times).
    pub fn logins(&self) -> u64 {
        self.logins.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A JSON body with every string that is not a `${VAR}` reference emptied.
fn redact(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains("${") => v.clone(),
        Value::String(_) => Value::String(String::new()),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), redact(x))).collect()),
        other => other.clone(),
    }
}

fn has_empty(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().any(has_empty),
        Value::Object(o) => o.values().any(has_empty),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_and_only_references_are_recorded() {
        let env = |k: &str| (k == "TRACESPLIT_AUTH_TEST_PW").then(|| "s3cret&x".to_owned());
        let auth = Auth {
            path: "/login".into(),
            method: post(),
            form: [
                ("username".to_owned(), "admin".to_owned()),
                (
                    "password".to_owned(),
                    "${TRACESPLIT_AUTH_TEST_PW}".to_owned(),
                ),
            ]
            .into(),
            json: None,
            token: access_token(),
            header: bearer(),
        };
        let (body, kind) = auth.body(&env).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&body),
            "password=s3cret%26x&username=admin"
        );
        assert_eq!(kind, "application/x-www-form-urlencoded");
        let kept = auth.recorded();
        assert_eq!(kept.form["password"], "${TRACESPLIT_AUTH_TEST_PW}");
        assert_eq!(kept.form["username"], "", "a literal is not recorded");
        assert!(!kept.replayable() && auth.replayable());
        let text = serde_json::to_string(&kept).unwrap_or_default();
        assert!(
            !text.contains("s3cret") && !text.contains("admin"),
            "{text}"
        );
        assert!(
            matches!(expand("${NOT_SET}", &env), Err(AuthError::MissingVar(v)) if v == "NOT_SET")
        );
        assert_eq!(
            expand("a ${TRACESPLIT_AUTH_TEST_PW} b", &env).unwrap_or_default(),
            "a s3cret&x b"
        );
    }
}
