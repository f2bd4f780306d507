//! Whether a user may be issued tokens: not while disabled, and a refresh token only from the
//! user's current token epoch (each disable starts a new one, revoking the refresh tokens
//! issued before). Read fresh from the database, never from the server's user cache, so a
//! `rolo users disable` run against the same database counts at once.

use rolo_store::User;

use super::OAuthError;
use crate::AppState;

/// The user's current token epoch (for the refresh token about to be issued), or the refusal.
/// `presented` is the epoch a refresh token carries.
pub(super) async fn may_sign_in(state: &AppState, user: &User, presented: Option<i64>) -> Result<i64, OAuthError> {
    let standing = state.store.user_standing(&user.id).await.map_err(super::server_error)?;
    let Some(standing) = standing else {
        return Err(OAuthError::grant(70000, "Provided grant is invalid or malformed: its user no longer exists."));
    };
    if standing.disabled {
        return Err(OAuthError::grant(50057, "The user account is disabled."));
    }
    if presented.is_some_and(|epoch| epoch != standing.token_epoch) {
        return Err(OAuthError::grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user's account was disabled since it was issued.",
        ));
    }
    Ok(standing.token_epoch)
}
