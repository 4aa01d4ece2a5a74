//! The ceiling the benchmark measures usher against: a bare axum JSON echo,
//! built with the same crates, profile and runtime as usher.
//!
//! `cargo run --release --example echo -- 127.0.0.1:8090`

use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    // Any path, so the fixed-rate run can be pointed at it too (`bench rate`).
    let app = Router::new().route("/{*path}", post(|Json(body): Json<Value>| async move { Json(body) }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
