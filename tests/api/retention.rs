//! Retention with a clock the test controls: images, then records, then an audit prefix expire; each batch
//! leaves a PII-free audit event, and the remaining chain verifies behind a MAC'd checkpoint.

use chrono::{Duration, Utc};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;

use crate::both_backends;
use crate::helpers::{TEST_DATA_KEY, TestApp, fixture, test_protection};
use kyc_receiver::audit;
use kyc_receiver::store::retention::{RetentionPolicy, run};

fn checkpoint_key() -> kyc_receiver::store::audit_log::AuditKey {
    test_protection("t1", &[("t1", TEST_DATA_KEY)]).audit_key()
}

fn policy(images: u32, records: u32, audit: u32) -> RetentionPolicy {
    RetentionPolicy {
        images_days: images,
        records_days: records,
        audit_days: audit,
        quarantine_days: 0,
        events_days: 0,
        batch_size: 1,
    }
}

async fn expired_data_goes_in_audited_batches_and_the_chain_still_verifies(app: &TestApp) {
    assert_eq!(
        app.submit(fixture("ditto-v3-full.json")).await.status(),
        200
    );
    assert_eq!(
        app.submit(fixture("ditto-v3-small.json")).await.status(),
        200
    );
    let key = checkpoint_key();
    let now = Utc::now().naive_utc();
    let mut db = app.db();

    let early = run(
        &mut db,
        &policy(30, 60, 90),
        &key,
        now + Duration::days(10),
        false,
    )
    .expect("run");
    assert_eq!(
        (
            early.images_deleted,
            early.records_deleted,
            early.audit_events_removed
        ),
        (0, 0, 0)
    );

    let images = run(
        &mut db,
        &policy(30, 0, 0),
        &key,
        now + Duration::days(31),
        false,
    )
    .expect("run");
    assert_eq!(images.images_deleted, 4);
    assert_eq!(app.submission_count(), 2);

    let dry = run(
        &mut db,
        &policy(30, 60, 0),
        &key,
        now + Duration::days(61),
        true,
    )
    .expect("dry");
    assert_eq!(dry.records_deleted, 2);
    assert_eq!(app.submission_count(), 2, "a dry run deletes nothing");

    let records = run(
        &mut db,
        &policy(30, 60, 0),
        &key,
        now + Duration::days(61),
        false,
    )
    .expect("run");
    assert_eq!(records.records_deleted, 2);
    assert_eq!(
        records.batches, 2,
        "batch_size 1: one transaction per record"
    );
    assert_eq!(app.submission_count(), 0);

    let events = app.audit_events();
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "submission_stored",
            "submission_stored",
            "retention_images",
            "retention_records",
            "retention_records"
        ]
    );
    for (_, _, details) in &events[2..] {
        assert!(
            !details.contains("jānis") && !details.contains("Sofía"),
            "{details}"
        );
    }

    // The start-up's mapping activation and the two submission events are older than 90 days at day 91; the
    // retention events are not.
    let audit_run = run(
        &mut db,
        &policy(30, 60, 90),
        &key,
        now + Duration::days(91),
        false,
    )
    .expect("run");
    assert_eq!(audit_run.audit_events_removed, 3);
    let report = audit::verify_with_key(&mut db, Some(&key)).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(
        report.events_checked, 6,
        "3 retention events + 3 audit-retention events (batches of one) remain"
    );

    // A hash that already starts with `ab` (one in 256) must still change.
    db.batch_execute(
        "UPDATE audit_checkpoints SET hash = \
         CASE WHEN substr(hash, 1, 2) = 'ab' THEN 'cd' ELSE 'ab' END || substr(hash, 3)",
    )
    .expect("forge");
    let forged = audit::verify_with_key(&mut db, Some(&key)).expect("verify");
    assert_eq!(
        forged.first_broken_event.map(|p| p.kind),
        Some("checkpoint_forged")
    );
}
both_backends!(expired_data_goes_in_audited_batches_and_the_chain_still_verifies);

async fn rotating_data_keys_reseals_everything_and_can_resume(app: &TestApp) {
    use kyc_receiver::store::{images, submissions};
    let answer: serde_json::Value = app
        .submit(fixture("ditto-v3-full.json"))
        .await
        .json()
        .await
        .expect("json");
    let reference = crate::helpers::reference(answer["reference_number"].as_str().expect("ref"));
    let new_key = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=";
    let both = test_protection("t2", &[("t2", new_key), ("t1", TEST_DATA_KEY)]);
    let mut db = app.db();
    // Batch size 1 with one image already done would be a resumed run; the result is the same.
    let report = kyc_receiver::store::rotation::rotate_data(&mut db, &both, 1).expect("rotate");
    assert_eq!((report.images, report.records), (4, 1));
    let again = kyc_receiver::store::rotation::rotate_data(&mut db, &both, 1).expect("resume");
    assert_eq!((again.images, again.records, again.batches), (0, 0, 0));

    let only_new = test_protection("t2", &[("t2", new_key)]);
    for (kind, _, _) in images::kinds(&mut db, &reference).expect("kinds") {
        let row = images::find(&mut db, &reference, &kind)
            .expect("q")
            .expect("row");
        assert_eq!(row.blob.key_id, "t2");
        assert_eq!(
            only_new
                .open_image(&reference, &row)
                .expect("opens with the new key")[..2],
            [0xFF, 0xD8]
        );
    }
    let row = submissions::find(&mut db, &reference)
        .expect("q")
        .expect("row");
    assert_eq!(
        only_new
            .record_fields(&row.reference, &row.fields, row.sealed_pii().as_ref())
            .expect("fields")["document_number"],
        "MD2053424"
    );
    assert!(audit::verify(&mut db).expect("verify").ok);
}
both_backends!(rotating_data_keys_reseals_everything_and_can_resume);

async fn quarantine_entries_expire_with_an_audit_event(app: &TestApp) {
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("ditto-v3-small.json")).expect("json");
    body["kyc_info"]["document"]["version"] = serde_json::json!("9.9");
    assert_eq!(app.submit(body.to_string()).await.status(), 422);
    let mut db = app.db();
    let count = |db: &mut kyc_receiver::store::DbConnection| {
        kyc_receiver::store::quarantine::list(db, &Default::default(), None, 100)
            .expect("list")
            .len()
    };
    assert_eq!(count(&mut db), 1);
    let policy = RetentionPolicy {
        quarantine_days: 30,
        ..policy(0, 0, 0)
    };
    let key = checkpoint_key();
    let now = Utc::now().naive_utc();
    let early = run(&mut db, &policy, &key, now + Duration::days(29), false).expect("run");
    assert_eq!(early.quarantine_deleted, 0);
    let dry = run(&mut db, &policy, &key, now + Duration::days(31), true).expect("dry run");
    assert_eq!((dry.quarantine_deleted, count(&mut db)), (1, 1));
    let done = run(&mut db, &policy, &key, now + Duration::days(31), false).expect("run");
    assert_eq!((done.quarantine_deleted, count(&mut db)), (1, 0));
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("retention_quarantine")
    );
    assert!(
        audit::verify_with_key(&mut db, Some(&key))
            .expect("verify")
            .ok
    );
}
both_backends!(quarantine_entries_expire_with_an_audit_event);

async fn decision_events_expire_once_every_endpoint_is_past_them(app: &TestApp) {
    assert_eq!(
        app.submit(fixture("ditto-v3-small.json")).await.status(),
        200
    );
    let mut db = app.db();
    let policy = RetentionPolicy {
        events_days: 30,
        ..policy(0, 0, 0)
    };
    let key = checkpoint_key();
    let later = Utc::now().naive_utc() + Duration::days(31);
    // An endpoint still before the event holds it.
    kyc_receiver::store::events::ensure_endpoint(&mut db, "slow", true).expect("endpoint");
    let held = run(&mut db, &policy, &key, later, false).expect("run");
    assert_eq!(held.events_deleted, 0);
    diesel::sql_query("UPDATE webhook_state SET cursor = 1")
        .execute(&mut db)
        .expect("advance");
    let early = run(&mut db, &policy, &key, Utc::now().naive_utc(), false).expect("run");
    assert_eq!(early.events_deleted, 0);
    let done = run(&mut db, &policy, &key, later, false).expect("run");
    assert_eq!(done.events_deleted, 1);
    assert_eq!(
        kyc_receiver::store::events::get(&mut db, 1)
            .expect("get")
            .map(|e| e.seq),
        None
    );
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert_eq!(kinds.last().map(String::as_str), Some("retention_events"));
}
both_backends!(decision_events_expire_once_every_endpoint_is_past_them);
