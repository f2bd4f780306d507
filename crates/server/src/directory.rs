//! The server's cache of users, kept honest against the database: every authenticated request
//! compares the directory's version, and a change (a user disabled, enabled, removed or added,
//! by this process or by `rolo users` on the same database) retires every cached entry. The
//! store remembers that version between the fleet poll's reads (`fleet.rs`, every 250 ms) and
//! forgets it at its own directory writes, so the check costs no query: a user disabled through
//! this process's store fails at its next request, one disabled elsewhere within a second.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rolo_domain::{GraphError, GraphResult, Principal};
use rolo_store::{Store, User};

/// Users by id or UPN (ASCII-lower-cased), each tagged with the generation it was read in.
/// Shared, not cloned: every request looks its caller and its mailbox's owner up here.
#[derive(Default)]
pub struct UserCache {
    entries: RwLock<HashMap<String, (Arc<User>, u64)>>,
    /// The directory version last seen, and a local counter bumped each time it changes.
    seen: RwLock<String>,
    generation: AtomicU64,
}

impl UserCache {
    /// How many times the cache was emptied (the directory changed, or the emulator reset).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }

    /// Reads the directory's version; a change retires what the cache holds.
    pub async fn refresh(&self, store: &dyn Store) -> GraphResult<()> {
        let version = store.directory_version().await?;
        let changed = self.seen.read().map(|seen| *seen != version).unwrap_or(true);
        if changed {
            if let Ok(mut seen) = self.seen.write() {
                *seen = version;
            }
            self.forget();
        }
        Ok(())
    }

    /// Finds a user by object id or UPN, through the cache.
    pub async fn user(&self, store: &dyn Store, key: &str) -> GraphResult<Option<Arc<User>>> {
        // ASCII case only, as the store compares UPNs: a look-alike must not hit a cached user.
        // Object ids are lower-case already and need no copy.
        let k = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        };
        // Tagged with the generation before the read: an entry read while the directory changed
        // is already stale when stored, and is never served.
        let generation = self.generation.load(Ordering::SeqCst);
        let cached = self.entries.read().ok().and_then(|m| m.get(k.as_ref()).cloned());
        if let Some((u, g)) = cached {
            if g == generation {
                return Ok(Some(u));
            }
        }
        let found = store.find_user(key).await?.map(Arc::new);
        if let (Some(u), Ok(mut m)) = (&found, self.entries.write()) {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(k.into_owned(), (u.clone(), generation));
        }
        Ok(found)
    }
}

/// A delegated caller must still be an enabled user: a disabled or removed user's access tokens
/// fail at their next request, as `InvalidAuthenticationToken`. App-only callers have no user.
pub async fn require_active(cache: &UserCache, store: &dyn Store, principal: &Principal) -> GraphResult<()> {
    // Apps too: a user removed since it was cached must not be addressed through the cache.
    cache.refresh(store).await?;
    let Some(oid) = principal.user_id.as_deref() else { return Ok(()) };
    match cache.user(store, oid).await?.as_deref() {
        Some(u) if !u.disabled => Ok(()),
        Some(_) => Err(GraphError::unauthenticated("Access token validation failure. The user's account is disabled.")),
        None => Err(GraphError::unauthenticated("Access token validation failure. The token's user no longer exists.")),
    }
}
