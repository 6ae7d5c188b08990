//! Signing in with a local account: password (argon2id, through the service's password gate: bounded checks,
//! failures limited per address and per account-and-address, so nobody can lock a person out from
//! elsewhere), then a new password when the old one was one-time, then TOTP (enrolment at first), then the
//! console. Signing out ends the session on the server.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, Person, parse_roles, stage};
use super::{ConsoleError, Nav, page, read_form, see_other, totp};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::auth::gate::{GateRefusal, address_key};
use crate::auth::{FailureLimiter, verify_secret};
use crate::store::console;

/// Largest sign-in form.
const MAX_FORM: usize = 8 * 1024;

/// Mounts the sign-in pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/password", web::get().to(password_page))
        .route("/password", web::post().to(password))
        .route("/totp", web::get().to(totp_page))
        .route("/totp", web::post().to(totp_check))
        .route("/totp/enrol", web::get().to(enrol_page))
        .route("/totp/enrol", web::post().to(enrol))
        .route("/logout", web::post().to(logout));
}

/// Failures per account and address: 5 in 5 minutes (the address itself has the gate's 10).
pub fn account_limiter(clock: std::sync::Arc<dyn crate::auth::Clock>) -> FailureLimiter {
    FailureLimiter::new(
        crate::auth::limiter::LimiterPolicy {
            max_failures: 5,
            window_secs: 300,
            max_keys: 10_000,
        },
        clock,
    )
}

#[derive(Template)]
#[template(path = "login.html", config = "src/console/askama.toml")]
pub(super) struct LoginPage {
    nav: Option<Nav>,
    next: String,
    next_encoded: String,
    error: Option<String>,
    info: Option<String>,
    oidc_label: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    expired: Option<String>,
}

pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains("://") => {
            n.into()
        }
        _ => "/console/".into(),
    }
}

pub(super) fn login_view(
    state: &AppState,
    next: String,
    error: Option<String>,
    info: Option<String>,
) -> LoginPage {
    LoginPage {
        nav: None,
        next_encoded: super::percent_encode(&next),
        next,
        error,
        info,
        oidc_label: state
            .settings
            .console
            .oidc
            .as_ref()
            .map(|o| o.label.clone()),
    }
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q = web::Query::<NextQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or(NextQuery {
            next: None,
            expired: None,
        });
    let info = q
        .expired
        .map(|_| "You were signed out after a time without activity.".to_string());
    page(&login_view(
        &state,
        safe_next(q.next.as_deref()),
        None,
        info,
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

const WRONG: &str = "User name or password is incorrect.";

async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form: LoginForm = super::read_sign_in_form(&req, payload, &state, MAX_FORM).await?;
    let next = safe_next(form.next.as_deref());
    let address = crate::api::peer::client_address(&req, &state.trusted_proxies).map(address_key);
    let username = form.username.trim().to_lowercase();
    let pair_key = format!("{username}\0{}", address.as_deref().unwrap_or("-"));
    let refuse = |message: String| page(&login_view(&state, next.clone(), Some(message), None));
    if let Err(retry) = state.console.per_account.check(&pair_key) {
        return refuse(too_many(retry));
    }
    let admission = match state.auth.gate.admit(address.as_deref()) {
        Ok(a) => a,
        Err(GateRefusal::SlowDown(retry)) => return refuse(too_many(retry)),
        Err(GateRefusal::Busy) => return Err(ConsoleError::Unavailable),
    };
    let lookup = username.clone();
    let user = with_db(&state, move |conn| Ok(console::find_user(conn, &lookup)?)).await?;
    let password = form.password;
    let verified = web::block(move || match &user {
        Some(u) if !u.disabled => verify_secret(&password, &u.password_hash).then(|| u.clone()),
        Some(_) | None => {
            crate::auth::secret_hash::dummy_verify(&password);
            None
        }
    })
    .await
    .map_err(|e| ConsoleError::internal(&e))?;
    let Some(user) = verified else {
        drop(admission);
        state.console.per_account.record_failure(&pair_key);
        log::info!("console sign-in refused for a user name from {address:?}");
        return refuse(WRONG.into());
    };
    admission.succeeded();
    let roles = parse_roles(&user.roles).unwrap_or_default();
    let next_stage = if user.must_change_password {
        stage::PASSWORD_CHANGE
    } else {
        second_factor_stage(&roles, user.totp_enrolled)
    };
    log::info!("console sign-in of user:{}", user.username);
    let cookie = session::start(
        &state,
        format!("user:{}", user.username),
        user.display_name.clone(),
        &roles,
        next_stage,
    )
    .await?;
    let to = if next_stage == stage::ACTIVE {
        next.as_str()
    } else {
        session::next_step(next_stage)
    };
    let mut answer = see_other(to);
    answer
        .add_cookie(&cookie)
        .map_err(|e| ConsoleError::internal(&e))?;
    Ok(answer)
}

fn too_many(retry_secs: u64) -> String {
    format!(
        "Too many attempts from here. Try again in {} minute(s), or ask an admin.",
        retry_secs.div_ceil(60).max(1)
    )
}

/// The stage after the password: TOTP (or its enrolment) for roles that need it, else signed in.
fn second_factor_stage(roles: &[session::Role], enrolled: bool) -> &'static str {
    if !super::accounts::needs_totp(roles) {
        stage::ACTIVE
    } else if enrolled {
        stage::TOTP
    } else {
        stage::TOTP_ENROL
    }
}

/// The session of a person part-way through signing in at `expected`, or where to go instead.
async fn in_stage(
    req: &HttpRequest,
    state: &AppState,
    expected: &str,
) -> Result<Person, ConsoleError> {
    match session::current(req, state).await? {
        Some(p) if p.stage == expected => Ok(p),
        Some(p) => Err(ConsoleError::Redirect(session::next_step(&p.stage).into())),
        None => Err(ConsoleError::SignIn {
            next: "/console/".into(),
        }),
    }
}

fn local_name(person: &Person) -> Result<&str, ConsoleError> {
    person
        .subject
        .strip_prefix("user:")
        .ok_or_else(|| ConsoleError::BadRequest("this step is for local accounts".into()))
}

#[derive(Template)]
#[template(path = "password.html", config = "src/console/askama.toml")]
struct PasswordPage {
    nav: Option<Nav>,
    csrf: String,
    min_chars: usize,
    error: Option<String>,
}

async fn password_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::PASSWORD_CHANGE).await?;
    page(&PasswordPage {
        nav: None,
        csrf: person.csrf,
        min_chars: super::accounts::MIN_PASSWORD_CHARS,
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
    again: String,
}

async fn password(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::PASSWORD_CHANGE).await?;
    let form: PasswordForm = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    let problem = if form.password != form.again {
        Some("The two passwords differ.".to_string())
    } else {
        super::accounts::check_new_password(&form.password)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(error) = problem {
        return page(&PasswordPage {
            nav: None,
            csrf: person.csrf,
            min_chars: super::accounts::MIN_PASSWORD_CHARS,
            error: Some(error),
        });
    }
    let username = local_name(&person)?.to_string();
    let hash = web::block(move || crate::auth::hash_secret(&form.password))
        .await
        .map_err(|e| ConsoleError::internal(&e))?
        .map_err(|e| ConsoleError::internal(&e))?;
    let name = username.clone();
    let enrolled = with_db(&state, move |conn| {
        console::set_password(conn, &name, &hash, false)?;
        Ok(console::find_user(conn, &name)?.is_some_and(|u| u.totp_enrolled))
    })
    .await?;
    let next = second_factor_stage(&person.roles, enrolled);
    session::advance(&state, &person, next).await?;
    Ok(see_other(session::next_step(next)))
}

/// What the enrolment page shows.
struct Enrolment {
    qr_svg: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "totp.html", config = "src/console/askama.toml")]
struct TotpPage {
    nav: Option<Nav>,
    csrf: String,
    action: &'static str,
    error: Option<String>,
    enrol: Option<Enrolment>,
}

async fn totp_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::TOTP).await?;
    page(&TotpPage {
        nav: None,
        csrf: person.csrf,
        action: "/console/totp",
        error: None,
        enrol: None,
    })
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// The account's TOTP secret, opened (`None` when it has none yet).
async fn stored_secret(state: &AppState, username: &str) -> Result<Option<Vec<u8>>, ConsoleError> {
    let name = username.to_string();
    let user = with_db(state, move |conn| Ok(console::find_user(conn, &name)?))
        .await?
        .ok_or(ConsoleError::NotFound)?;
    match user.sealed_totp() {
        Some(sealed) => state
            .protection
            .open_totp(username, &sealed)
            .map(Some)
            .map_err(|e| ConsoleError::internal(&e)),
        None => Ok(None),
    }
}

/// Checks a TOTP code, counting a wrong one like a wrong password for the account and address. A code
/// already used (here or on another instance) is wrong: the account's last step is moved forward in the
/// database. `Ok(Err(message))` for a refused code.
async fn code_ok(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    secret: &[u8],
    code: &str,
) -> Result<Result<(), String>, ConsoleError> {
    let address = crate::api::peer::client_address(req, &state.trusted_proxies).map(address_key);
    let key = format!("{username}\0{}", address.as_deref().unwrap_or("-"));
    if let Err(retry) = state.console.per_account.check(&key) {
        return Ok(Err(too_many(retry)));
    }
    let accepted = match totp::check(secret, username, code).and_then(|s| i64::try_from(s).ok()) {
        Some(step) => {
            let name = username.to_string();
            with_db(state, move |conn| {
                Ok(console::use_totp_step(conn, &name, step)?)
            })
            .await?
        }
        None => false,
    };
    if accepted {
        Ok(Ok(()))
    } else {
        state.console.per_account.record_failure(&key);
        Ok(Err(CODE_REFUSED.into()))
    }
}

const CODE_REFUSED: &str = "Code not accepted. Check your device's clock and try the current code.";

async fn totp_check(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::TOTP).await?;
    let form: CodeForm = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    let username = local_name(&person)?.to_string();
    let secret = stored_secret(&state, &username)
        .await?
        .ok_or_else(|| ConsoleError::Redirect("/console/totp/enrol".into()))?;
    let error = match code_ok(&state, &req, &username, &secret, &form.code).await? {
        Ok(()) => {
            session::advance(&state, &person, stage::ACTIVE).await?;
            return Ok(see_other("/console/"));
        }
        Err(message) => message,
    };
    page(&TotpPage {
        nav: None,
        csrf: person.csrf,
        action: "/console/totp",
        error: Some(error),
        enrol: None,
    })
}

/// The enrolment page: a fresh secret is made (sealed, not yet enrolled) the first time it is shown.
async fn enrol_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::TOTP_ENROL).await?;
    let username = local_name(&person)?.to_string();
    let secret = match stored_secret(&state, &username).await? {
        Some(secret) => secret,
        None => {
            let secret = totp::new_secret();
            let sealed = state
                .protection
                .seal_totp(&username, &secret)
                .map_err(|e| ConsoleError::internal(&e))?;
            let name = username.clone();
            with_db(&state, move |conn| {
                Ok(console::set_totp(conn, &name, Some(&sealed), false)?)
            })
            .await?;
            secret
        }
    };
    enrol_view(&person, &username, &secret, None)
}

fn enrol_view(
    person: &Person,
    username: &str,
    secret: &[u8],
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (_, qr_svg) = totp::enrolment(secret, username)
        .ok_or_else(|| ConsoleError::internal(&"TOTP enrolment could not be rendered"))?;
    page(&TotpPage {
        nav: None,
        csrf: person.csrf.clone(),
        action: "/console/totp/enrol",
        error,
        enrol: Some(Enrolment {
            qr_svg,
            secret: totp::display_secret(secret),
        }),
    })
}

async fn enrol(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = in_stage(&req, &state, stage::TOTP_ENROL).await?;
    let form: CodeForm = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    let username = local_name(&person)?.to_string();
    let secret = stored_secret(&state, &username)
        .await?
        .ok_or_else(|| ConsoleError::Redirect("/console/totp/enrol".into()))?;
    if let Err(message) = code_ok(&state, &req, &username, &secret, &form.code).await? {
        return enrol_view(&person, &username, &secret, Some(message));
    }
    let sealed = state
        .protection
        .seal_totp(&username, &secret)
        .map_err(|e| ConsoleError::internal(&e))?;
    let name = username.clone();
    with_db(&state, move |conn| {
        Ok(console::set_totp(conn, &name, Some(&sealed), true)?)
    })
    .await?;
    session::advance(&state, &person, stage::ACTIVE).await?;
    Ok(see_other("/console/"))
}

async fn logout(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(person) = session::current(&req, &state).await? else {
        return Ok(see_other("/console/login"));
    };
    let _: super::Button = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    session::end(&state, &person).await?;
    let mut answer = see_other("/console/login");
    answer
        .add_cookie(&session::cleared())
        .map_err(|e| ConsoleError::internal(&e))?;
    Ok(answer)
}
