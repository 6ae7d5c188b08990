//! kyc-receiver: receives identity-verification (KYC) results pushed by an upstream IDV platform (Ditto ID and
//! compatible), verifies, decrypts, maps, decides, stores durably with a tamper-evident audit trail, and answers
//! with the confirmation the upstream expects.
//!
//! Layers, top to bottom: `cli` → `startup` → `api` → `intake` / `store` / `config` → `payload` / `tls`.
//! Cipher profiles and sealing live in the `kyc-crypto` crate; the upstream simulator is `kyc-upstream`.

// Tests may unwrap; the non-test build of the library is still checked without this allowance.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;

pub mod decision;
pub mod events;

pub mod intake;
pub mod mapping;
pub mod payload;
pub mod protect;
pub mod quarantine;
pub mod receipts;
pub mod records;
pub mod startup;
pub mod store;
pub mod submission;
pub mod tls;
