//! The shared harness (`crates/kyc-test-support`), under the name the test modules use.

pub use kyc_test_support::*;
