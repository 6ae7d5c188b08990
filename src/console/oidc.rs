//! Signing in through the enterprise's OpenID Connect issuer (`[console.oidc]`): the authorization code flow
//! with PKCE (S256), `state` and `nonce`, through the `oauth2` crate. The issuer's endpoints come from its
//! discovery document (read at the first sign-in, read again after a failure); the ID token is verified with
//! the issuer's JWKS by the same [`JwksVerifier`] that checks API tokens (algorithm, signature, `iss`, `aud`
//! = our client id, `exp`), then its `nonce` and `azp`. Roles come from one claim (`roles_claim`, a dotted
//! path such as `realm_access.roles` allowed) through `role_map`; a person with no mapped role is not let in.
//! The person is `oidc:SUB@ISSUER` in every audit event.
//!
//! `state` is single-use and kept in the database (so any instance can finish a flow another began) and is
//! also bound to the browser by a short-lived cookie, so nobody can make a victim's browser finish a
//! sign-in the attacker started. Second factors are the issuer's business: require them there.

use std::sync::{Arc, RwLock};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::session::{self, Role, random_token};
use super::{ConsoleError, Nav, page};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::auth::Clock;
use crate::auth::jwks::JwksVerifier;
use crate::auth::settings::JwksSettings;
use crate::config::OidcSettings;
use crate::store::console::{self, OidcLoginRow};

/// The cookie binding a flow to the browser that started it (`Lax`: it must come back on the issuer's
/// redirect, a top-level navigation from another site).
const FLOW_COOKIE: &str = "__Host-kyc-oidc";

/// How long a started sign-in may take.
const FLOW_MINUTES: i64 = 10;

/// Algorithms an ID token may be signed with (HS* never: our client secret is not a signing key here).
const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Mounts the OpenID Connect routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oidc/start", web::get().to(start))
        .route("/oidc/callback", web::get().to(callback));
}

/// The `id_token` beside the access token in the token response (OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    id_token: String,
}

impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type OidcClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What discovery told us about the issuer.
#[derive(Debug)]
struct Issuer {
    client: OidcClient,
    jwks: JwksVerifier,
    http: reqwest::Client,
}

/// The issuer's endpoints and keys, discovered at the first sign-in.
#[derive(Debug, Default)]
pub struct OidcCache {
    issuer: RwLock<Option<Arc<Issuer>>>,
    discovering: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl OidcCache {
    async fn get(
        &self,
        settings: &OidcSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Issuer>, ConsoleError> {
        if let Some(issuer) = self.cached() {
            return Ok(issuer);
        }
        let _one = self.discovering.lock().await;
        if let Some(issuer) = self.cached() {
            return Ok(issuer);
        }
        let issuer = Arc::new(discover(settings, clock).await.map_err(|e| {
            log::warn!(
                "OpenID Connect discovery at {} failed: {e}",
                settings.issuer
            );
            ConsoleError::Unavailable
        })?);
        if let Ok(mut slot) = self.issuer.write() {
            *slot = Some(issuer.clone());
        }
        Ok(issuer)
    }

    fn cached(&self) -> Option<Arc<Issuer>> {
        self.issuer.read().ok().and_then(|i| i.clone())
    }
}

async fn discover(settings: &OidcSettings, clock: Arc<dyn Clock>) -> Result<Issuer, String> {
    let http = crate::auth::http::build_client("console.oidc", settings.ca_file.as_deref())
        .map_err(|e| e.to_string())?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        settings.issuer.trim_end_matches('/')
    );
    let doc: Discovery = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: not a discovery document: {e}"))?;
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if !same_issuer(&doc.issuer, &settings.issuer) {
        return Err(format!(
            "{url} names issuer {} instead of {}",
            doc.issuer, settings.issuer
        ));
    }
    let bad = |what: &str, e: &dyn std::fmt::Display| format!("{url}: {what}: {e}");
    let client = oauth2::Client::new(ClientId::new(settings.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            settings.client_secret.expose_secret().to_owned(),
        ))
        .set_auth_uri(
            AuthUrl::new(doc.authorization_endpoint)
                .map_err(|e| bad("authorization_endpoint", &e))?,
        )
        .set_token_uri(TokenUrl::new(doc.token_endpoint).map_err(|e| bad("token_endpoint", &e))?)
        .set_redirect_uri(
            RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| bad("redirect_url", &e))?,
        );
    let mut algorithms: Vec<String> = doc
        .id_token_signing_alg_values_supported
        .iter()
        .filter(|a| ALGORITHMS.contains(&a.as_str()))
        .cloned()
        .collect();
    if algorithms.is_empty() {
        // Discovery §3: RS256 is the default when the issuer does not say.
        algorithms.push("RS256".into());
    }
    let jwks = JwksVerifier::new(
        &JwksSettings {
            url: doc.jwks_uri,
            issuer: doc.issuer,
            audience: Some(settings.client_id.clone()),
            algorithms,
            refresh_floor_secs: 30,
            leeway_secs: 30,
            ca_file: settings.ca_file.clone(),
        },
        &settings.client_id,
        clock,
    )
    .map_err(|e| e.to_string())?;
    Ok(Issuer { client, jwks, http })
}

fn settings(state: &AppState) -> Result<&OidcSettings, ConsoleError> {
    state
        .settings
        .console
        .oidc
        .as_ref()
        .ok_or(ConsoleError::NotFound)
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// Sends the browser to the issuer.
async fn start(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let settings = settings(&state)?;
    let issuer = state
        .console
        .oidc
        .get(settings, state.console.clock.clone())
        .await?;
    let q = web::Query::<StartQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or(StartQuery { next: None });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = random_token();
    let mut request = issuer
        .client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce.clone());
    for scope in settings.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf) = request.url();
    let now = Utc::now().naive_utc();
    let row = OidcLoginRow {
        state: csrf.secret().clone(),
        verifier: verifier.secret().clone(),
        nonce,
        return_to: super::login::safe_next(q.next.as_deref()),
        created_at: now,
    };
    let stale = now - Duration::minutes(FLOW_MINUTES);
    with_db(&state, move |conn| {
        Ok(console::insert_oidc_login(conn, &row, stale)?)
    })
    .await?;
    let mut answer = super::see_other(url.as_str());
    answer
        .add_cookie(&flow_cookie(csrf.secret().clone()))
        .map_err(|e| ConsoleError::internal(&e))?;
    Ok(answer)
}

fn flow_cookie(value: String) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::minutes(FLOW_MINUTES))
        .finish()
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The page that continues into the console once the session cookie is set. A redirect would not do: after
/// a navigation that began at the issuer, browsers withhold `SameSite=Strict` cookies for the rest of the
/// redirect chain, so the first console page would not see the new session.
#[derive(Template)]
#[template(path = "continue.html", config = "src/console/askama.toml")]
struct ContinuePage {
    nav: Option<Nav>,
    to: String,
}

fn refused(state: &AppState, message: &str) -> Result<HttpResponse, ConsoleError> {
    let mut answer = page(&super::login::login_view(
        state,
        "/console/".into(),
        Some(message.into()),
        None,
    ))?;
    *answer.status_mut() = actix_web::http::StatusCode::FORBIDDEN;
    Ok(answer)
}

/// The issuer sends the browser back here with a code (or an error).
async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let settings = settings(&state)?;
    let q = web::Query::<CallbackQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ConsoleError::BadRequest("the sign-in answer could not be read".into()))?;
    if let Some(error) = q.error.as_deref() {
        log::info!(
            "OpenID Connect sign-in ended by the issuer: {}",
            error.chars().take(64).collect::<String>()
        );
        return refused(&state, "The single sign-on did not complete. Try again.");
    }
    let (Some(flow_state), Some(code)) = (q.state, q.code) else {
        return Err(ConsoleError::BadRequest(
            "the sign-in answer lacks `state` or `code`".into(),
        ));
    };
    let bound = req
        .cookie(FLOW_COOKIE)
        .is_some_and(|c| constant_eq(c.value(), &flow_state));
    let taken = with_db(&state, move |conn| {
        Ok(console::take_oidc_login(conn, &flow_state)?)
    })
    .await?;
    let fresh = Utc::now().naive_utc() - Duration::minutes(FLOW_MINUTES);
    let Some(flow) = taken.filter(|f| bound && f.created_at >= fresh) else {
        return refused(
            &state,
            "This sign-in was not started in this browser or took too long. Start again.",
        );
    };
    let issuer = state
        .console
        .oidc
        .get(settings, state.console.clock.clone())
        .await?;
    let token = issuer
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&issuer.http)
        .await
        .map_err(|e| {
            log::warn!("OpenID Connect code exchange failed: {e}");
            ConsoleError::Unavailable
        })?;
    let claims = match issuer
        .jwks
        .verify_claims(&token.extra_fields().id_token)
        .await
    {
        Ok(claims) => claims,
        Err(crate::auth::AuthError::Unavailable) => return Err(ConsoleError::Unavailable),
        Err(_) => {
            log::warn!("OpenID Connect ID token refused");
            return refused(
                &state,
                "The identity provider's answer could not be verified.",
            );
        }
    };
    let person = match identify(&claims, &flow.nonce, settings) {
        Ok(person) => person,
        Err(Refusal::Token(why)) => {
            log::warn!("OpenID Connect ID token refused: {why}");
            return refused(
                &state,
                "The identity provider's answer could not be verified.",
            );
        }
        Err(Refusal::NoRole) => {
            log::info!("OpenID Connect sign-in without a console role");
            return refused(
                &state,
                "Your account holds no console role. Ask for one of the groups mapped in the console's set-up.",
            );
        }
    };
    log::info!("console sign-in of {}", person.subject);
    let cookie = session::start(
        &state,
        person.subject,
        person.display_name,
        &person.roles,
        session::stage::ACTIVE,
    )
    .await?;
    let mut clear = flow_cookie(String::new());
    clear.make_removal();
    let mut answer = page(&ContinuePage {
        nav: None,
        to: flow.return_to,
    })?;
    answer
        .add_cookie(&cookie)
        .map_err(|e| ConsoleError::internal(&e))?;
    answer
        .add_cookie(&clear)
        .map_err(|e| ConsoleError::internal(&e))?;
    Ok(answer)
}

fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Who an ID token names.
#[derive(Debug, PartialEq)]
pub struct Identified {
    subject: String,
    display_name: String,
    roles: Vec<Role>,
}

/// Why an ID token does not let someone in.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The token does not belong to this sign-in.
    Token(&'static str),
    /// No group of theirs maps to a console role.
    NoRole,
}

/// Checks what the signature check cannot (nonce, `azp`, `sub`) and maps the roles claim.
pub fn identify(
    claims: &Map<String, Value>,
    nonce: &str,
    settings: &OidcSettings,
) -> Result<Identified, Refusal> {
    let given = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !constant_eq(given, nonce) {
        return Err(Refusal::Token("nonce does not match"));
    }
    // Core §3.1.3.7: with several audiences, `azp` must name us.
    if let Some(azp) = claims.get("azp").and_then(Value::as_str)
        && azp != settings.client_id
    {
        return Err(Refusal::Token("azp names another client"));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(Refusal::Token("no usable sub"))?;
    let mut roles = Vec::new();
    for group in claim_values(claims, &settings.roles_claim) {
        for name in settings.role_map.get(&group).into_iter().flatten() {
            if let Some(role) = Role::parse(name)
                && !roles.contains(&role)
            {
                roles.push(role);
            }
        }
    }
    if roles.is_empty() {
        return Err(Refusal::NoRole);
    }
    roles.sort();
    let display_name = ["name", "preferred_username", "email"]
        .iter()
        .find_map(|k| {
            claims
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or(sub)
        .chars()
        .take(100)
        .collect();
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or(&settings.issuer);
    Ok(Identified {
        subject: format!("oidc:{sub}@{}", issuer.trim_end_matches('/')),
        display_name,
        roles,
    })
}

/// The strings at a dotted claim path (`groups`, `realm_access.roles`): an array of strings, or one string.
fn claim_values(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut at = path.split('.');
    let Some(first) = at.next() else {
        return Vec::new();
    };
    let mut value = claims.get(first);
    for key in at {
        value = value.and_then(|v| v.get(key));
    }
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example/".into(),
            client_id: "kyc-console".into(),
            client_secret: secrecy::SecretString::from("s"),
            redirect_url: "https://kyc.example/console/oidc/callback".into(),
            scopes: vec![],
            roles_claim: "realm_access.roles".into(),
            role_map: [
                ("kyc-reviewers".to_string(), vec!["reviewer".to_string()]),
                (
                    "kyc-dpo".to_string(),
                    vec!["pii".to_string(), "images".to_string()],
                ),
            ]
            .into(),
            label: String::new(),
            ca_file: None,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn groups_map_to_roles_and_the_person_is_named_by_issuer_and_sub() {
        let c = claims(json!({
            "iss": "https://id.example", "sub": "u-42", "nonce": "n1", "azp": "kyc-console",
            "name": "Alice Example", "realm_access": {"roles": ["kyc-dpo", "kyc-reviewers", "other"]}
        }));
        let who = identify(&c, "n1", &settings()).expect("identified");
        assert_eq!(who.subject, "oidc:u-42@https://id.example");
        assert_eq!(who.display_name, "Alice Example");
        assert_eq!(who.roles, [Role::Reviewer, Role::Pii, Role::Images]);
    }

    #[test]
    fn a_wrong_nonce_another_client_or_no_role_is_refused() {
        let base = json!({"sub": "u", "nonce": "n1", "realm_access": {"roles": ["kyc-reviewers"]}});
        assert_eq!(
            identify(&claims(base.clone()), "n2", &settings()),
            Err(Refusal::Token("nonce does not match"))
        );
        let mut other = base.clone();
        other["azp"] = json!("someone-else");
        assert!(matches!(
            identify(&claims(other), "n1", &settings()),
            Err(Refusal::Token(_))
        ));
        let mut none = base;
        none["realm_access"] = json!({"roles": ["staff"]});
        assert_eq!(
            identify(&claims(none), "n1", &settings()),
            Err(Refusal::NoRole)
        );
    }
}
