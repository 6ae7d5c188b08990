//! The baseline for `benches/load.sh`: actix-web over openssl with the receiver's own TLS set-up
//! (`kyc_receiver::tls::acceptor`, same certificate), doing nothing but read the whole body. It answers
//! the two calls `kyc-upstream load` makes, so the same client loads both servers in one run:
//!
//! - `POST /oauth/token` → a fixed bearer token (never checked);
//! - `POST /kyc` → reads the body, answers `{"result":true,"reference_number":"BARE-<n>"}`.
//!
//! No decryption, no parsing, no storage: its request rate is the ceiling the receiver is compared with.
//!
//! ```text
//! cargo build --release --example bare_server
//! target/release/examples/bare_server 127.0.0.1:PORT CERT.pem KEY.pem
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};

static SERVED: AtomicU64 = AtomicU64::new(0);

async fn token() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"access_token":"bare","token_type":"Bearer","expires_in":3600}"#)
}

/// `web::Bytes` makes actix read the whole body (up to the limit) before the handler runs, as the receiver
/// does.
async fn kyc(body: web::Bytes) -> HttpResponse {
    let n = SERVED.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(format!(
            r#"{{"result":true,"reference_number":"BARE-{n}-{}"}}"#,
            body.len()
        ))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bind, cert, key] = args.as_slice() else {
        eprintln!("usage: bare_server BIND_ADDR CERT.pem KEY.pem");
        std::process::exit(2);
    };
    let acceptor = kyc_receiver::tls::acceptor(cert.as_ref(), key.as_ref(), None)
        .map_err(std::io::Error::other)?;
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(32 * 1024 * 1024))
            .route("/oauth/token", web::post().to(token))
            .route("/kyc", web::post().to(kyc))
    })
    .bind_openssl(bind, acceptor)?
    .run()
    .await
}
