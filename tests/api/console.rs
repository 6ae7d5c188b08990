//! The console over HTTPS, as a browser without JavaScript uses it: cookies by hand, forms urlencoded, no
//! redirects followed. Sign-in with a one-time password, its change and TOTP enrolment; a review whose audit
//! event names the person; forms without the session's CSRF token or from another site refused; no personal
//! value in any page for someone without the pii role; idle sessions ending; four eyes; TOTP codes used once.

use kyc_receiver::console::accounts;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, fixture_json};
use crate::records_support::submit_many;

/// A browser session: one cookie, no redirects followed.
struct Person {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Person {
    fn new(app: &TestApp) -> Person {
        let cert = std::fs::read(app.cert_path()).expect("cert");
        Person {
            client: reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&cert).expect("pem"))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
            cookie: None,
        }
    }

    fn keep_cookie(&mut self, r: &reqwest::Response) {
        for value in r.headers().get_all(SET_COOKIE) {
            let text = value.to_str().expect("ascii");
            if let Some(rest) = text.strip_prefix("__Host-kyc-session=") {
                let token = rest.split(';').next().unwrap_or_default();
                self.cookie = (!token.is_empty()).then(|| format!("__Host-kyc-session={token}"));
            }
        }
    }

    async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let r = req.send().await.expect("get");
        self.answer(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        self.post_from(path, form, None).await
    }

    async fn post_from(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String, Option<String>) {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let r = req.send().await.expect("post");
        self.answer(r).await
    }

    async fn answer(&mut self, r: reqwest::Response) -> (u16, String, Option<String>) {
        self.keep_cookie(&r);
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().expect("ascii").to_string());
        (status, r.text().await.expect("body"), location)
    }
}

/// The value of the first hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn add_user(app: &TestApp, name: &str, roles: &str) -> String {
    accounts::add(
        &mut app.db(),
        &crate::helpers::protection().audit_key(),
        name,
        None,
        roles,
        "cli:test",
    )
    .expect("user")
}

/// The current TOTP code of the base32 secret shown on the enrolment page.
fn totp_code(secret_base32: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32.replace(' ', "")).expect("base32");
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_secret(secret)
        .with_account_name("x")
        .build()
        .expect("totp")
        .generate_current()
        .to_string()
}

/// Signs in with the one-time password, sets a new one and, when asked, enrols TOTP. Returns the TOTP code
/// used at enrolment.
async fn sign_in(app: &TestApp, name: &str, roles: &str) -> (Person, Option<String>) {
    let one_time = add_user(app, name, roles);
    let mut p = Person::new(app);
    let (status, _, to) = p
        .post(
            "/console/login",
            &[("username", name), ("password", &one_time)],
        )
        .await;
    assert_eq!((status, to.as_deref()), (303, Some("/console/password")));
    let (_, page, _) = p.get("/console/password").await;
    let csrf = hidden(&page, "csrf");
    let new = "correct horse battery staple";
    let (status, _, to) = p
        .post(
            "/console/password",
            &[("csrf", &csrf), ("password", new), ("again", new)],
        )
        .await;
    assert_eq!(status, 303);
    if to.as_deref() != Some("/console/totp/enrol") {
        return (p, None);
    }
    let (_, page, _) = p.get("/console/totp/enrol").await;
    let secret = page
        .split("class=\"secret\"")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .expect("secret shown")
        .trim()
        .to_string();
    let code = totp_code(&secret);
    let (status, _, to) = p
        .post(
            "/console/totp/enrol",
            &[("csrf", &hidden(&page, "csrf")), ("code", &code)],
        )
        .await;
    assert_eq!(
        (status, to.as_deref()),
        (303, Some("/console/")),
        "enrolment"
    );
    (p, Some(code))
}

fn personal_values() -> Vec<String> {
    personal_values_of("ditto-v3-small.json")
}

fn personal_values_of(fixture: &str) -> Vec<String> {
    let v = fixture_json(fixture);
    let data = &v["kyc_info"]["document"]["identity_data"];
    ["Given name", "Surname", "Document number"]
        .iter()
        .filter_map(|k| data[*k].as_str().map(str::to_string))
        .collect()
}

async fn a_reviewer_signs_in_and_decides_with_their_name_on_the_trail(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "con")
        .await
        .remove(0);
    let (mut alice, secret) = sign_in(app, "alice", "reviewer").await;
    assert!(secret.is_none(), "no TOTP for roles that reveal nothing");
    let (status, queue, _) = alice.get("/console/queue").await;
    assert_eq!(status, 200);
    assert!(queue.contains(&reference), "the pending case is queued");
    let (status, case, _) = alice.get(&format!("/console/cases/{reference}")).await;
    assert_eq!(status, 200);
    let csrf = hidden(&case, "csrf");
    let review = format!("/console/cases/{reference}/review");

    // Without the token, with a wrong one, or from another site: refused, nothing changes.
    for form in [
        vec![("decision", "approved"), ("note", "ok")],
        vec![("csrf", "forged"), ("decision", "approved"), ("note", "ok")],
    ] {
        let (status, _, _) = alice.post(&review, &form).await;
        assert_eq!(status, 403);
    }
    let (status, _, _) = alice
        .post_from(
            &review,
            &[("csrf", &csrf), ("decision", "approved"), ("note", "ok")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(status, 403, "cross-site form");
    let (_, still, _) = alice.get(&format!("/console/cases/{reference}")).await;
    assert!(still.contains("Pending review"));

    let (status, _, _) = alice
        .post(
            &review,
            &[
                ("csrf", &csrf),
                ("decision", "approved"),
                ("note", "documents match"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let mut db = app.db();
    let actors = kyc_receiver::store::listing::audit_page(
        &mut db,
        &kyc_receiver::store::listing::AuditFilter {
            kind: Some("submission_reviewed".into()),
            ..Default::default()
        },
        0,
        10,
    )
    .expect("events");
    assert_eq!(actors[0].actor.as_deref(), Some("user:alice"));
    assert_eq!(
        actors[0].reference.as_ref().map(|r| r.to_string()),
        Some(reference.clone())
    );

    // Signing out revokes the session on the server.
    let (_, page, _) = alice.get("/console/search").await;
    let (status, _, _) = alice
        .post("/console/logout", &[("csrf", &hidden(&page, "csrf"))])
        .await;
    assert_eq!(status, 303);
    let (status, _, to) = alice.get("/console/search").await;
    assert_eq!(
        (status, to.map(|t| t.starts_with("/console/login"))),
        (303, Some(true))
    );
}
both_backends!(a_reviewer_signs_in_and_decides_with_their_name_on_the_trail);

async fn without_the_pii_role_no_page_holds_a_personal_value(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 2, "mask")
        .await
        .remove(0);
    let (mut bob, _) = sign_in(app, "bob", "reviewer,auditor").await;
    let (_, search, _) = bob.get("/console/search").await;
    let csrf = hidden(&search, "csrf");
    let mut pages = Vec::new();
    for path in [
        "/console/queue".to_string(),
        format!("/console/cases/{reference}"),
        "/console/search".into(),
        "/console/audit".into(),
        "/console/overview".into(),
        "/console/export?format=csv".into(),
        "/console/export?format=jsonl".into(),
    ] {
        let (status, body, _) = bob.get(&path).await;
        assert_eq!(status, 200, "{path}");
        pages.push((path, body));
    }
    let (status, body, _) = bob
        .post(
            &format!("/console/cases/{reference}/reveal"),
            &[("csrf", &csrf), ("purpose", "Fraud investigation")],
        )
        .await;
    assert_eq!(status, 403, "revealing needs the pii role");
    pages.push(("reveal".into(), body));
    let (status, _, _) = bob
        .get(&format!("/console/cases/{reference}/images/selfie"))
        .await;
    assert_eq!(status, 403, "images need the images role");
    for value in personal_values() {
        for (path, body) in &pages {
            assert!(!body.contains(&value), "{path} holds a personal value");
        }
    }
}
both_backends!(without_the_pii_role_no_page_holds_a_personal_value);

async fn revealing_needs_a_purpose_and_totp_codes_work_once(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-full.json", 1, "pii")
        .await
        .remove(0);
    let (mut carol, secret) = sign_in(app, "carol", "reviewer,pii,images").await;
    let used = secret.expect("TOTP enrolled for the pii role");
    let (_, case, _) = carol.get(&format!("/console/cases/{reference}")).await;
    let csrf = hidden(&case, "csrf");
    for value in personal_values_of("ditto-v3-full.json") {
        assert!(!case.contains(&value), "masked until revealed");
    }
    let (status, revealed, _) = carol
        .post(
            &format!("/console/cases/{reference}/reveal"),
            &[("csrf", &csrf), ("purpose", "Manual review of this case")],
        )
        .await;
    assert_eq!(status, 200);
    for value in personal_values_of("ditto-v3-full.json") {
        assert!(revealed.contains(&value), "revealed: {value}");
    }
    for kind in ["selfie", "portrait", "front", "back"] {
        let (status, _, _) = carol
            .get(&format!("/console/cases/{reference}/images/{kind}"))
            .await;
        assert_eq!(status, 200, "{kind}");
    }
    let mut db = app.db();
    let reads = kyc_receiver::store::listing::audit_page(
        &mut db,
        &kyc_receiver::store::listing::AuditFilter {
            actor: Some("user:carol".into()),
            ..Default::default()
        },
        0,
        50,
    )
    .expect("events");
    let kinds: Vec<&str> = reads.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"personal_data_read") && kinds.contains(&"image_read"),
        "{kinds:?}"
    );

    // A second sign-in with the code just used is refused; the same person is not locked out by it.
    let mut again = Person::new(app);
    let (_, _, to) = again
        .post(
            "/console/login",
            &[
                ("username", "carol"),
                ("password", "correct horse battery staple"),
            ],
        )
        .await;
    assert_eq!(to.as_deref(), Some("/console/totp"));
    let (_, page, _) = again.get("/console/totp").await;
    let (status, body, _) = again
        .post(
            "/console/totp",
            &[("csrf", &hidden(&page, "csrf")), ("code", &used)],
        )
        .await;
    assert_eq!(status, 200, "a used code is not accepted twice");
    assert!(body.contains("Code not accepted"));
}
both_backends!(revealing_needs_a_purpose_and_totp_codes_work_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.console.idle_minutes = 0.02, "").await;
    let (mut dave, _) = sign_in(&app, "dave", "auditor").await;
    let (status, _, _) = dave.get("/console/search").await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let (status, _, to) = dave.get("/console/search").await;
    assert_eq!(status, 303);
    assert!(to.expect("location").starts_with("/console/login"));
}

async fn four_eyes(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "4e")
        .await
        .remove(0);
    let (mut erin, _) = sign_in(app, "erin", "reviewer").await;
    let (mut frank, _) = sign_in(app, "frank", "reviewer").await;
    let case_path = format!("/console/cases/{reference}");
    let (_, case, _) = erin.get(&case_path).await;
    let csrf = hidden(&case, "csrf");
    let (status, _, _) = erin
        .post(
            &format!("{case_path}/review"),
            &[
                ("csrf", &csrf),
                ("decision", "rejected"),
                ("note", "portrait differs"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, proposed, _) = erin.get(&case_path).await;
    assert!(
        proposed.contains("Pending review"),
        "a proposal changes nothing yet"
    );
    assert!(
        !proposed.contains("/confirm\""),
        "no Confirm button for the proposer"
    );
    let (status, _, _) = erin
        .post(&format!("{case_path}/confirm"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        status, 409,
        "the proposer cannot confirm their own decision"
    );

    let (_, seen, _) = frank.get(&case_path).await;
    let (status, _, _) = frank
        .post(
            &format!("{case_path}/confirm"),
            &[("csrf", &hidden(&seen, "csrf"))],
        )
        .await;
    assert_eq!(status, 303);
    let (_, done, _) = frank.get(&case_path).await;
    assert!(done.contains("Rejected"));
    let events = app.audit_events();
    assert!(events.iter().any(|(k, _, _)| k == "review_proposed"));
    let mut db = app.db();
    let reviewed = kyc_receiver::store::listing::audit_page(
        &mut db,
        &kyc_receiver::store::listing::AuditFilter {
            kind: Some("submission_reviewed".into()),
            ..Default::default()
        },
        0,
        10,
    )
    .expect("events");
    assert_eq!(reviewed[0].actor.as_deref(), Some("user:frank"));
    assert!(
        reviewed[0].details.contains("user:erin"),
        "{}",
        reviewed[0].details
    );
}

mod four_eyes_backends {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, |s| s.console.four_eyes = true, "").await;
        four_eyes(&app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if !crate::helpers::postgres_configured() {
            return;
        }
        let app = TestApp::spawn_with(Backend::Postgres, |s| s.console.four_eyes = true, "").await;
        four_eyes(&app).await;
    }
}

async fn an_admin_replays_and_drops_quarantined_submissions(app: &TestApp) {
    let mut body = fixture_json("ditto-v3-small.json");
    body["kyc_info"]["document"]["version"] = serde_json::json!("9.9");
    body["request_info"]["requester_id"] = serde_json::json!("console-q");
    assert_eq!(app.submit(body.to_string()).await.status(), 422);

    let (mut reviewer, _) = sign_in(app, "rita", "reviewer").await;
    let (status, _, _) = reviewer.get("/console/admin/quarantine").await;
    assert_eq!(status, 403);

    let (mut admin, _) = sign_in(app, "ada", "admin").await;
    let (status, page, _) = admin.get("/console/admin/quarantine").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("console-q") && page.contains("mapping_failed"),
        "{page}"
    );
    assert!(!page.contains("Kowalski"), "no body on the page");
    let id = page
        .split("class=\"mono\">Q-")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(|s| format!("Q-{s}"))
        .expect("an entry id");
    let csrf = hidden(&page, "csrf");

    let (status, _, to) = admin
        .post(
            &format!("/console/admin/quarantine/{id}/dry-run"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = admin.get(to.as_deref().expect("location")).await;
    assert!(
        page.contains("still refused") && page.contains("422 mapping_failed"),
        "{page}"
    );

    // A forged form (no CSRF token) changes nothing.
    let (status, _, _) = admin
        .post(
            &format!("/console/admin/quarantine/{id}/drop"),
            &[("csrf", "nope")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, to) = admin
        .post(
            &format!("/console/admin/quarantine/{id}/drop"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = admin.get(to.as_deref().expect("location")).await;
    assert!(
        page.contains("dropped") && page.contains("Nothing here"),
        "{page}"
    );
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert!(
        !kinds.contains(&"quarantine_replay_failed".to_string()),
        "a dry run writes nothing"
    );
    assert!(kinds.contains(&"quarantine_dropped".to_string()));

    // The rules a record was decided by, as they were: linked from the case page.
    let stored =
        crate::records_support::submit_many(app, "ditto-v3-small.json", 1, "console-m").await;
    let (_, case, _) = reviewer.get(&format!("/console/cases/{}", stored[0])).await;
    let link = case
        .split("href=\"/console/mappings/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("mapping link");
    let (status, version, _) = reviewer.get(&format!("/console/mappings/{link}")).await;
    assert_eq!(status, 200);
    assert!(
        version.contains("name = &quot;ditto-v3&quot;")
            || version.contains("name = &#34;ditto-v3&#34;"),
        "{version}"
    );
    let (status, _, _) = reviewer
        .get(&format!("/console/mappings/{}", "0".repeat(64)))
        .await;
    assert_eq!(status, 404);
}
both_backends!(an_admin_replays_and_drops_quarantined_submissions);

/// The console's "Verify the trail" runs the API's verification: a record rewritten with a recomputed hash is
/// named as not matching its history.
async fn the_console_names_a_record_that_contradicts_its_history(app: &TestApp) {
    let stored = submit_many(app, "ditto-v3-small.json", 1, "console-v").await;
    let (mut auditor, _) = sign_in(app, "audrey", "auditor").await;
    let (status, page, _) = auditor.get("/console/audit").await;
    assert_eq!(status, 200);
    let csrf = hidden(&page, "csrf");
    let (_, page, _) = auditor
        .post("/console/audit/verify", &[("csrf", &csrf)])
        .await;
    assert!(page.contains("Chain intact"), "{page}");
    let mut row = kyc_receiver::store::submissions::find(
        &mut app.db(),
        &crate::helpers::reference(&stored[0]),
    )
    .expect("query")
    .expect("row");
    row.status = kyc_receiver::decision::Status::Approved;
    row.content_hash = row.compute_content_hash();
    use diesel::connection::SimpleConnection;
    app.db()
        .batch_execute(&format!(
            "UPDATE submissions SET status = 'approved', content_hash = '{}' WHERE reference = '{}'",
            row.content_hash, stored[0]
        ))
        .expect("tamper");
    let (_, page, _) = auditor
        .post("/console/audit/verify", &[("csrf", &csrf)])
        .await;
    assert!(
        page.contains("do not match their history") && page.contains(&stored[0]),
        "{page}"
    );
}
both_backends!(the_console_names_a_record_that_contradicts_its_history);
