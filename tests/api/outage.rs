//! The database going away: 503 with Retry-After and nothing acknowledged, then recovery without a restart.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fixture_json, postgres_configured};

async fn submit_numbered(app: &TestApp, n: u32) -> reqwest::Response {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!(format!("outage-{n}"));
    app.submit(body.to_string()).await
}

async fn assert_unavailable(r: reqwest::Response) {
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_database_gives_503_then_recovers() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    assert_eq!(submit_numbered(&app, 1).await.status(), 200);
    let store::DbUrl::Sqlite(path) = store::DbUrl::parse(&app.db_url).expect("url") else {
        unreachable!()
    };
    let mut locker = SqliteConnection::establish(&path).expect("open");
    locker.batch_execute("BEGIN EXCLUSIVE").expect("lock");
    assert_unavailable(submit_numbered(&app, 2).await).await;
    locker.batch_execute("COMMIT").expect("unlock");
    assert_eq!(submit_numbered(&app, 3).await.status(), 200);
    assert_eq!(app.submission_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusing_connections_gives_503_then_recovers() {
    if !postgres_configured() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres, "").await;
    assert_eq!(submit_numbered(&app, 1).await.status(), 200);
    let name = app.db_url.rsplit('/').next().expect("db name").to_string();
    let admin = std::env::var("KYC_TEST_POSTGRES_URL").expect("url");
    let mut conn = PgConnection::establish(&admin).expect("admin");
    conn.batch_execute(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ))
    .expect("cut connections");
    assert_unavailable(submit_numbered(&app, 2).await).await;
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 503);
    conn.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .expect("restore");
    // The pool may hand out a connection that died during the outage once; the next attempt reconnects.
    let mut status = 0;
    for _ in 0..3 {
        status = submit_numbered(&app, 3).await.status().as_u16();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200);
    assert_eq!(app.submission_count(), 2);
}

use kyc_receiver::store;
