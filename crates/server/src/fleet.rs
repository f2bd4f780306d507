//! One Rolo, many processes: what keeps a process's cached state in step with the others on
//! the same database. The database holds a version of each cached thing (the directory's
//! version, the signing key itself, the emulator's settings); every process polls them in one
//! small read every [`POLL`] and drops or reloads what changed. So a change made through any
//! process, or by `rolo users`/`rolo keys rotate` on the database, is in force everywhere
//! within a second, and no process trusts its own memory for longer.
//!
//! What is not here, because it is already checked on use: the user cache (`directory.rs`
//! compares the directory version on every request; the store keeps that version fresh from this
//! poll's read), a mailbox's People (its change counter on every request), app access policies
//! and grants (read on every request).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rolo_domain::{GraphError, GraphResult};
use rolo_store::fleet::EMULATOR_SETTINGS_SETTING;
use rolo_store::SharedVersions;
use serde_json::Value;

use crate::AppState;

/// How often a process reads the shared versions: changes take effect within this (plus a
/// read), well inside a second.
pub const POLL: Duration = Duration::from_millis(250);

/// What this process last saw, and how often each cache was replaced because of another's change.
#[derive(Default)]
pub struct Coherence {
    seen: Mutex<Option<SharedVersions>>,
    /// Held by a poll and by a local settings change from apply to store, so a poll that read
    /// the settings before the change never applies them after it.
    turn: tokio::sync::Mutex<()>,
    pub signing_key_reloads: AtomicU64,
    pub emulator_settings_reloads: AtomicU64,
}

/// Reads the shared versions once and brings this process's caches in line with them.
pub async fn sync(state: &AppState) -> GraphResult<()> {
    let _turn = state.coherence.turn.lock().await;
    let now = state.store.shared_versions().await?;
    let previous = state.coherence.seen.lock().map_err(|_| GraphError::internal("coherence lock"))?.clone();
    if previous.as_ref() == Some(&now) {
        return Ok(());
    }
    if state.authority.adopt_key(&now.signing_key)? {
        state.coherence.signing_key_reloads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(kid = %state.authority.key_id(), "the signing key was rotated; signing and verifying with the new one");
    }
    let settings_changed = previous.as_ref().is_none_or(|p| p.emulator_settings != now.emulator_settings);
    if state.emulator && settings_changed && !now.emulator_settings.is_empty() {
        match serde_json::from_str::<Value>(&now.emulator_settings) {
            Ok(doc) => {
                crate::admin::apply_settings(state, &doc)?;
                state.coherence.emulator_settings_reloads.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "the stored emulator settings are not JSON; kept this process's"),
        }
    }
    if previous.as_ref().is_some_and(|p| p.directory != now.directory) {
        // The user cache checks this on every request already; the People directory at its next use.
        state.people.forget_directory();
    }
    *state.coherence.seen.lock().map_err(|_| GraphError::internal("coherence lock"))? = Some(now);
    Ok(())
}

/// Applies a change of the emulator's settings here, and stores the result for every process
/// (each applies it at its next poll). Returns the settings now in force.
pub async fn change_emulator_settings(state: &AppState, change: &Value) -> GraphResult<Value> {
    let _turn = state.coherence.turn.lock().await;
    crate::admin::apply_settings(state, change)?;
    let settings = crate::admin::settings_json(state);
    state.store.replace_setting(EMULATOR_SETTINGS_SETTING, &settings.to_string()).await?;
    Ok(settings)
}

/// Polls until aborted; a failed read is logged and retried at the next tick.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sync(&state).await {
                tracing::warn!(
                    cause = e.cause.as_deref().unwrap_or(&e.message),
                    "reading the shared cache versions failed"
                );
            }
        }
    })
}
