//! The `kyc-receiver` binary; all logic lives in the library.

fn main() -> std::process::ExitCode {
    kyc_receiver::cli::run()
}
