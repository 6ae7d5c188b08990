//! The upstream simulator behind `kyc-upstream`, as a library so the binary, the integration
//! tests and `benches/load.sh` run the same code.
//!
//! - [`generate`]: deterministic Ditto v3 payloads from a seed (names, documents, dates, scores, a chosen
//!   share meant to be rejected or reviewed), with [`images`] (real JPEG files, `none|small|full`).
//! - [`settings`]: flags and `--config` TOML with the same names, `[encryption.*]` blocks with the
//!   receiver's keys ([`kyc_crypto::ProfileSettings`]), `[locators]`.
//! - [`client`]: one push (auth header, request sealing, response opening) and [`confirm`], the
//!   confirmation check by locators on plain JSON (docs/ditto-protocol.md §7.2).
//! - [`token`]: the OAuth2 client-credentials token cache (`oauth2` crate).
//! - [`load`]: workers, arrival rate, retries and the acknowledged-ids file; [`summary`]: HDR latency
//!   and the report.
//!
//! Encryption is the receiver's own [`kyc_crypto::CipherProfile`] (`seal` for requests, `open` for
//! responses): one implementation of every cipher spec, tested against the independent vectors.

// Tests may unwrap; the non-test build is still checked without this allowance.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod confirm;
pub mod generate;
pub mod images;
pub mod load;
mod model;
pub mod names;
mod payload_doc;
pub mod settings;
pub mod summary;
pub mod token;

pub use client::{Reply, SendError, Upstream};
pub use confirm::{Confirmation, Locators};
pub use generate::{Expected, Generated, Generator, GeneratorSettings};
pub use images::ImageSize;
pub use load::{LoadPlan, run as run_load};
pub use settings::UpstreamSettings;
pub use summary::LoadReport;
