//! The metrics listener: GET `/metrics` in Prometheus's text format on `METRICS_ADDR`, an
//! actix-web server of its own (one worker), so metrics never appear on the public port and a
//! scrape never waits behind API traffic. Its answers carry the headers every response of the
//! service carries (`X-Request-Id`, `X-Content-Type-Options: nosniff`), from the same middleware
//! as the public port's.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

use super::metrics::handle;

/// Called before each scrape to sample gauges that are read rather than counted (pool figures).
pub type Sampler = Arc<dyn Fn() + Send + Sync>;

/// Binds `listener` and serves `/metrics` on it; everything else is 404.
pub fn serve(listener: TcpListener, sample: Sampler) -> std::io::Result<Server> {
    let handle = handle();
    Ok(HttpServer::new(move || {
        let sample = sample.clone();
        App::new().wrap(contacts_http::security_headers()).route(
            "/metrics",
            web::get().to(move || {
                let sample = sample.clone();
                async move {
                    sample();
                    handle.run_upkeep();
                    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
