//! Integration tests: the real application over HTTPS, on SQLite and (with KYC_TEST_POSTGRES_URL) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kyc_test_support::both_backends;

mod helpers;

mod audit;
mod auth;
mod backpressure;
mod browser;
mod cli;
mod console;
mod contract;
mod crash;
mod encryption;
mod erasure;
mod export;
mod hardening;
mod health;
mod mappings;
mod mtls;
mod openapi;
mod outage;
mod privacy;
mod quarantine;
mod records;
mod records_cli;
mod records_support;
mod retention;
mod review;
mod submit;
mod submit_errors;
mod webhooks;
