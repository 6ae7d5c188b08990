//! Command-line flags. The connection flags are global and have the same names as the keys of the
//! `--config` TOML; a flag given on the command line wins over the file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kyc_upstream::ImageSize;
use kyc_upstream::settings::{SettingsError, UpstreamSettings, parse_header};
use kyc_upstream::token::TokenAuth;
use secrecy::SecretString;

/// Behaves like the upstream IDV platform (Ditto ID): pushes KYC submissions to a receiver, with the
/// upstream's token flow, encryption and confirmation check; generates payloads; runs load tests.
#[derive(Debug, Parser)]
#[command(name = "kyc-upstream", version)]
pub struct Cli {
    /// Where and how to push.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection settings (also the keys of `--config`).
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// TOML file with the same names as these flags, plus [encryption.request], [encryption.response], [locators].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// OAuth2 token endpoint; requests then carry a fetched bearer token (client-credentials grant).
    #[arg(long, global = true, value_name = "URL")]
    pub token_url: Option<String>,
    /// Client id for the token endpoint.
    #[arg(long, global = true)]
    pub client_id: Option<String>,
    /// Client secret for the token endpoint.
    #[arg(
        long,
        global = true,
        env = "KYC_UPSTREAM_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// Scope to request (repeatable); none asks for the client's default scopes.
    #[arg(long, global = true)]
    pub scope: Vec<String>,
    /// How the client authenticates at the token endpoint.
    #[arg(long, global = true, value_enum)]
    pub token_auth: Option<TokenAuth>,
    /// The receiver's submission URL, e.g. https://127.0.0.1:8443/kyc.
    #[arg(long, global = true, value_name = "URL")]
    pub submit_url: Option<String>,
    /// Extra header "Name: value" (repeatable), e.g. "apiversion: v2" or a static "Authorization: Basic …".
    #[arg(
        long = "header",
        short = 'H',
        global = true,
        value_name = "NAME: VALUE"
    )]
    pub headers: Vec<String>,
    /// PEM file of the CA (or self-signed certificate) to trust.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Accept any certificate (self-signed development certificates).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Whole-request timeout in seconds (default 30).
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Locator of the boolean result in the confirmation (default `result`).
    #[arg(long, global = true, value_name = "PATH")]
    pub result_locator: Option<String>,
    /// Locator of the reference number (default `reference_number`; empty disables).
    #[arg(long, global = true, value_name = "PATH")]
    pub reference_locator: Option<String>,
    /// Locator of the user id (default `user_id`; empty disables).
    #[arg(long, global = true, value_name = "PATH")]
    pub user_id_locator: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Post one payload (a JSON file, `-` for stdin) and print the (decrypted) response; exit 1 unless it
    /// is a valid confirmation.
    Send {
        /// Payload file.
        file: PathBuf,
    },
    /// Write generated Ditto v3 payloads: one JSON per line to stdout, or files in --out DIR.
    Generate(GenerateArgs),
    /// Push generated payloads with C workers and print throughput, latency and errors.
    Load(LoadArgs),
}

/// Generator options shared by `generate` and `load`.
#[derive(Debug, Args)]
pub struct GenOpts {
    /// Seed (generate: 1; load: random, printed in the summary).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Image size: none (≈3 KB payloads), small (thumbnails, ≈26 KB), full (≈1.2 MB payloads).
    #[arg(long, value_enum, default_value = "small")]
    pub images: ImageSize,
    /// Share of payloads (0-1) meant to be rejected or sent to review by the shipped mapping.
    #[arg(long, default_value_t = 0.2)]
    pub reject_share: f64,
}

/// `generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Generator options.
    #[command(flatten)]
    pub gen_opts: GenOpts,
    /// How many payloads.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Directory for one file per payload plus expected.jsonl (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `load`
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Generator options.
    #[command(flatten)]
    pub gen_opts: GenOpts,
    /// New submissions to send (retries come on top).
    #[arg(long)]
    pub count: Option<u64>,
    /// Workers, each with its own keep-alive connection.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Fixed arrival rate (requests per second); latency then counts from the scheduled start.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop starting requests after this long: 90, 90s, 500ms, 2m, 1h.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// After every K new submissions, resend one acknowledged requester id (must get the same reference).
    #[arg(long, value_name = "K")]
    pub retry_every: Option<u64>,
    /// Write every acknowledged requester id to FILE (one per line, each once).
    #[arg(long, value_name = "FILE")]
    pub acked: Option<PathBuf>,
    /// Print the summary as JSON (and no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// `90`, `90s`, `500ms`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| t.split_at(i));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}`: unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}`: {e}"))
}

impl ConnArgs {
    /// The `--config` file (if any) with the flags applied on top.
    pub fn settings(&self) -> Result<UpstreamSettings, SettingsError> {
        let mut s = match &self.config {
            Some(path) => UpstreamSettings::from_file(path)?,
            None => UpstreamSettings::default(),
        };
        let set = |slot: &mut Option<String>, flag: &Option<String>| {
            if flag.is_some() {
                slot.clone_from(flag);
            }
        };
        set(&mut s.token_url, &self.token_url);
        set(&mut s.client_id, &self.client_id);
        set(&mut s.submit_url, &self.submit_url);
        if let Some(secret) = &self.client_secret {
            s.client_secret = Some(SecretString::from(secret.clone()));
        }
        if !self.scope.is_empty() {
            s.scope.clone_from(&self.scope);
        }
        if let Some(a) = self.token_auth {
            s.token_auth = a;
        }
        // A header given as a flag replaces the file's header of the same name.
        let mut flag_names = Vec::new();
        for h in &self.headers {
            flag_names.push(parse_header(h)?.0.to_ascii_lowercase());
        }
        s.header.retain(|h| {
            parse_header(h).map_or(true, |(n, _)| !flag_names.contains(&n.to_ascii_lowercase()))
        });
        s.header.extend(self.headers.iter().cloned());
        if self.ca.is_some() {
            s.ca.clone_from(&self.ca);
            s.insecure = false;
        }
        if self.insecure {
            s.insecure = true;
            s.ca = None;
        }
        if let Some(t) = self.timeout {
            s.timeout_secs = t;
        }
        let loc = &mut s.locators;
        for (slot, flag) in [
            (&mut loc.result, &self.result_locator),
            (&mut loc.reference_number, &self.reference_locator),
            (&mut loc.user_id, &self.user_id_locator),
        ] {
            if let Some(v) = flag {
                slot.clone_from(v);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5 days").is_err());
    }
}
