//! The reviewer and auditor console, served under `/console/` by the same binary and port: server-rendered
//! HTML from askama templates (checked at compile time, `src/console/templates/`) with CSS, a little
//! JavaScript and an icon sprite embedded in the binary. Pages work without JavaScript.
//!
//! It is another face of the same service, not a second path to the data: pages call the functions the
//! `/v1` routes call (records, store, the writer), a signed-in person acts as a [`crate::auth::Principal`]
//! whose scopes come from their roles, and every audit event names the person (`user:NAME` or
//! `oidc:SUB@ISSUER`). Reads `[console]`.
//!
//! Every console response carries a strict Content-Security-Policy (no inline script or style, no framing),
//! `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`, HSTS and, but for the static assets,
//! `Cache-Control: no-store`.

pub mod accounts;
mod audit;
mod case;
mod error;
mod login;
mod mappings;
mod oidc;
mod overview;
mod quarantine;
mod queue;
mod search;
pub mod session;
mod totp;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;

pub use self::error::ConsoleError;
use self::session::{Person, Role};
use crate::api::AppState;

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; \
                       object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Mounts the console under `/console`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap_fn(security_headers)
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/static/{file}", web::get().to(asset))
            .configure(login::configure)
            .configure(oidc::configure)
            .configure(queue::configure)
            .configure(case::configure)
            .configure(search::configure)
            .configure(audit::configure)
            .configure(overview::configure)
            .configure(mappings::configure)
            .configure(quarantine::configure),
    );
}

/// What the console keeps between requests besides the database.
#[derive(Debug)]
pub struct ConsoleState {
    /// Failed sign-ins per account and address (the address alone is limited by the password gate).
    pub per_account: crate::auth::FailureLimiter,
    /// The OpenID Connect issuer's endpoints and keys, once discovered.
    pub oidc: oidc::OidcCache,
    /// The clock of the OpenID Connect key cache.
    pub clock: std::sync::Arc<dyn crate::auth::Clock>,
}

impl ConsoleState {
    /// Fresh state.
    pub fn new(clock: std::sync::Arc<dyn crate::auth::Clock>) -> ConsoleState {
        ConsoleState {
            per_account: login::account_limiter(clock.clone()),
            oidc: oidc::OidcCache::default(),
            clock,
        }
    }
}

/// What the page header shows: the person, their roles, where they are, and the links they may follow.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Their name.
    pub display_name: String,
    /// Their roles, comma-separated.
    pub roles: String,
    /// The sign-out form's CSRF token.
    pub csrf: String,
    /// The current section (`queue`, `search`, …).
    pub current: &'static str,
    /// Show the queue.
    pub reviewer: bool,
    /// Show the audit trail.
    pub auditor: bool,
    /// Show the admin pages.
    pub admin: bool,
}

impl Nav {
    /// The header of `person`, on section `current`.
    pub fn of(person: &Person, current: &'static str) -> Nav {
        Nav {
            display_name: person.display_name.clone(),
            roles: session::roles_text(&person.roles).replace(',', ", "),
            csrf: person.csrf.clone(),
            current,
            reviewer: person.has(Role::Reviewer),
            auditor: person.principal().has(crate::auth::scopes::KYC_READ),
            admin: person.has(Role::Admin),
        }
    }
}

/// A rendered page.
pub fn page(template: &impl Template) -> Result<HttpResponse, ConsoleError> {
    let html = template.render().map_err(|e| ConsoleError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A redirect after a form (POST, then redirect, then GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// Reads a small urlencoded form of `person`'s session at the service's body pace and checks its `csrf`
/// field against the session's token before anything else: a form without it, or with another, is refused
/// as such (403), whatever else it holds. Form types need not (and do not) declare the field.
pub async fn read_form<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    person: &Person,
    limit: usize,
) -> Result<T, ConsoleError> {
    let body = crate::api::body::read_limited(req, payload, limit, &state.settings.server).await?;
    let token = oauth2::url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    session::check_csrf(person, &token)?;
    serde_urlencoded_from(&body)
}

/// Reads the sign-in form, the one form without a session (and so without a token).
pub async fn read_sign_in_form<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    limit: usize,
) -> Result<T, ConsoleError> {
    let body = crate::api::body::read_limited(req, payload, limit, &state.settings.server).await?;
    serde_urlencoded_from(&body)
}

/// A form whose only field is the session's token (a button).
#[derive(serde::Deserialize)]
pub struct Button {}

fn serde_urlencoded_from<T: DeserializeOwned>(body: &[u8]) -> Result<T, ConsoleError> {
    web::Query::<T>::from_query(std::str::from_utf8(body).unwrap_or_default())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::BadRequest(format!("the form could not be read: {e}")))
}

/// The given (non-blank) fields as a query string, for paging and export links.
pub fn query_string(fields: &[(&str, &String)]) -> String {
    fields
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a value for a URL query.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/console/`: the first page a person's roles lead to.
async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    Ok(see_other(if person.has(Role::Reviewer) {
        "/console/queue"
    } else {
        "/console/search"
    }))
}

/// The embedded stylesheet, script and icon sprite.
async fn asset(path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let (body, content_type) = match path.as_str() {
        "console.css" => (
            include_str!("assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        "icons.svg" => (include_str!("assets/icons.svg"), "image/svg+xml"),
        _ => return Err(ConsoleError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}

/// Whether a request says it comes from another site: `Sec-Fetch-Site` other than `same-origin` (or `none`,
/// typed by the person); without that header, an `Origin` whose host is not ours. (Under `Referrer-Policy:
/// no-referrer` browsers send `Origin: null` even for our own forms, so `null` proves nothing.)
fn cross_site(req: &HttpRequest) -> bool {
    let text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match text("origin") {
        Some("null") | None => false,
        Some(origin) => {
            let host = req.connection_info().host().to_string();
            origin.split_once("://").map(|(_, h)| h) != Some(host.as_str())
        }
    }
}

/// The console's response headers (see the module comment).
fn security_headers<S>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let asset = req.path().starts_with("/console/static/");
    // Forms posted from another site are refused before any handler runs, sign-in included (the session's
    // CSRF token cannot protect the form that creates the session).
    let cross_site = req.method() == actix_web::http::Method::POST && cross_site(req.request());
    let call = if cross_site {
        let (http_req, _) = req.into_parts();
        let res = actix_web::ResponseError::error_response(&ConsoleError::Csrf);
        futures_util::future::Either::Left(futures_util::future::ready(Ok(ServiceResponse::new(
            http_req, res,
        ))))
    } else {
        futures_util::future::Either::Right(srv.call(req))
    };
    call.map(move |res: Result<ServiceResponse, actix_web::Error>| {
        res.map(|mut res| {
            let headers = res.headers_mut();
            let mut set = |name, value: &'static str| {
                headers.insert(name, HeaderValue::from_static(value));
            };
            set(header::CONTENT_SECURITY_POLICY, CSP);
            set(header::REFERRER_POLICY, "no-referrer");
            set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            set(header::X_FRAME_OPTIONS, "DENY");
            set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
            if !asset {
                set(header::CACHE_CONTROL, "no-store");
            }
            res
        })
    })
}
