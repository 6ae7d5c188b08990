//! `kyc-upstream`: a second binary that behaves like the upstream IDV platform, for integrators (see a
//! receiver work before the real upstream is connected) and for load benchmarks. Thin: flags here, the
//! work in `kyc_upstream`.
//!
//! Exit codes: 0 success; 1 `send` got no valid confirmation, or `load` counted errors; 2 bad flags or
//! configuration.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod args;

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use indicatif::{ProgressBar, ProgressStyle};
use kyc_upstream::{Generator, GeneratorSettings, LoadPlan, Upstream};

use args::{Cli, Command, GenOpts, GenerateArgs, LoadArgs};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(2, &format!("cannot start the async runtime: {e}")),
    };
    match cli.command {
        Command::Generate(ref g) => generate(g),
        Command::Send { ref file } => match connect(&cli) {
            Ok(up) => runtime.block_on(send(&up, file)),
            Err(code) => code,
        },
        Command::Load(ref l) => match connect(&cli) {
            Ok(up) => runtime.block_on(load(Arc::new(up), l)),
            Err(code) => code,
        },
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("kyc-upstream: {message}");
    ExitCode::from(code)
}

fn connect(cli: &Cli) -> Result<Upstream, ExitCode> {
    let settings = cli.conn.settings().map_err(|e| fail(2, &e.to_string()))?;
    let (upstream, warnings) =
        Upstream::from_settings(&settings).map_err(|e| fail(2, &e.to_string()))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(upstream)
}

/// Payloads draw their images from up to 8 distinct sets (fewer when fewer payloads are asked for).
fn generator(opts: &GenOpts, default_seed: u64, count: Option<u64>) -> Result<Generator, ExitCode> {
    let variants = count.map_or(8, |n| n.clamp(1, 8));
    Generator::new(GeneratorSettings {
        seed: opts.seed.unwrap_or(default_seed),
        images: opts.images,
        reject_share: opts.reject_share,
        image_variants: usize::try_from(variants).unwrap_or(8),
    })
    .map_err(|e| fail(2, &e.to_string()))
}

async fn send(up: &Upstream, file: &Path) -> ExitCode {
    let body = if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(file)
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return fail(2, &format!("{}: {e}", file.display())),
    };
    let sent_user = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/request_info/user_id")?
                .as_str()
                .map(str::to_owned)
        });
    let reply = match up.post(body).await {
        Ok(r) => r,
        Err(e) => return fail(1, &e.to_string()),
    };
    println!("{}", String::from_utf8_lossy(&reply.body));
    match up.confirm(&reply) {
        Ok(c) => {
            eprintln!(
                "HTTP {} confirmation: result={} reference_number={} user_id={}",
                reply.status,
                c.result,
                c.reference_number.as_deref().unwrap_or("-"),
                c.user_id.as_deref().unwrap_or("-"),
            );
            if let (Some(answered), Some(sent)) = (&c.user_id, &sent_user)
                && answered != sent
            {
                eprintln!(
                    "note: user_id differs from the request's; the upstream would rename the user"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e.to_string()),
    }
}

fn generate(args: &GenerateArgs) -> ExitCode {
    let g = match generator(&args.gen_opts, 1, Some(args.count)) {
        Ok(g) => g,
        Err(code) => return code,
    };
    if let Some(dir) = &args.out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return fail(2, &format!("{}: {e}", dir.display()));
    }
    let mut manifest = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for index in 0..args.count {
        let p = match g.payload(index) {
            Ok(p) => p,
            Err(e) => return fail(1, &e.to_string()),
        };
        let written = match &args.out {
            Some(dir) => {
                let name = format!("payload-{}-{index:06}.json", g.seed());
                let line = serde_json::json!({"file": name, "requester_id": p.requester_id,
                                              "user_id": p.user_id, "expected": p.expected});
                manifest.extend_from_slice(format!("{line}\n").as_bytes());
                std::fs::write(dir.join(name), &p.body)
            }
            None => out.write_all(&p.body).and_then(|()| out.write_all(b"\n")),
        };
        if let Err(e) = written {
            return fail(1, &e.to_string());
        }
    }
    if let Some(dir) = &args.out
        && let Err(e) = std::fs::write(dir.join("expected.jsonl"), manifest)
    {
        return fail(1, &e.to_string());
    }
    ExitCode::SUCCESS
}

fn progress_bar(args: &LoadArgs) -> ProgressBar {
    if args.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match args.count {
        Some(n) => {
            let retries = args.retry_every.map_or(0, |k| n / k.max(1));
            (
                ProgressBar::new(n + retries),
                "{bar:40} {pos}/{len} [{elapsed_precise}] {per_sec}",
            )
        }
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {pos} requests [{elapsed_precise}] {per_sec}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

async fn load(up: Arc<Upstream>, args: &LoadArgs) -> ExitCode {
    let seed = args.gen_opts.seed.unwrap_or_else(rand::random);
    let g = match generator(&args.gen_opts, seed, args.count) {
        Ok(g) => Arc::new(g),
        Err(code) => return code,
    };
    let plan = LoadPlan {
        count: args.count,
        duration: args.duration,
        concurrency: args.concurrency,
        rate: args.rate,
        retry_every: args.retry_every,
        acked: args.acked.clone(),
    };
    let report = match kyc_upstream::run_load(up, g, plan, progress_bar(args)).await {
        Ok(r) => r,
        Err(e) => return fail(2, &e.to_string()),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => return fail(1, &e.to_string()),
        }
    } else {
        print!("{}", report.render());
    }
    if report.errors_total > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
