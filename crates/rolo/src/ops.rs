//! Operations: the log format (`ROLO_LOG_FORMAT=json`), the metrics listener, and `rolo backup` /
//! `rolo restore` for SQLite.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use rolo_server::AppState;

/// Logs to standard error, filtered by `ROLO_LOG` (default `info`): text, or one JSON object per
/// line with `ROLO_LOG_FORMAT=json` (a request's lines carry `span.request_id`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: in a file or a journal they are escape codes to strip, and
    // styling every span's fields cost about 2,400 instructions per request (callgrind).
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match std::env::var("ROLO_LOG_FORMAT").unwrap_or_default().to_ascii_lowercase().as_str() {
        "json" => builder.json().with_current_span(true).with_span_list(false).init(),
        "" | "text" => builder.init(),
        other => {
            builder.init();
            tracing::warn!(format = other, "ROLO_LOG_FORMAT must be 'text' or 'json'; logging text");
        }
    }
}

/// Serves `GET /metrics` on `listen` for as long as the process runs; a bad address stops the
/// start, before the API's port is taken.
pub async fn serve_metrics(listen: &str, state: Arc<AppState>) {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| crate::fail(format!("cannot listen for metrics on {listen}: {e}")));
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_owned());
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    tokio::spawn(async move {
        if let Err(e) = rolo_server::metrics::serve(listener, state, std::future::pending()).await {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
}

/// `rolo backup --to FILE`: an online copy of the SQLite database, taken while servers run.
pub fn backup(database: &str, to: &Path) -> Result<(), String> {
    let file = rolo_store::operations::sqlite_file(database)?;
    let copied = rolo_store::operations::backup_sqlite(&file, to)?;
    eprintln!("Backed up {} to {} ({} pages, {} bytes).", file.display(), to.display(), copied.pages, copied.bytes);
    Ok(())
}

/// `rolo restore --from FILE`: replaces the SQLite database with a backup (servers stopped).
pub fn restore(database: &str, from: &Path) -> Result<(), String> {
    let file = rolo_store::operations::sqlite_file(database)?;
    let copied = rolo_store::operations::restore_sqlite(from, &file)?;
    eprintln!("Restored {} from {} ({} pages, {} bytes).", file.display(), from.display(), copied.pages, copied.bytes);
    Ok(())
}
