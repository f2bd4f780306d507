// Sign-in through Rolo's own authorization endpoint: the authorization-code flow with PKCE (S256)
// as a public client, tokens kept for this tab (sessionStorage), refreshed before they expire.

export const CLIENT_ID = "7a0c6f2e-6b1e-4c3a-9f6e-526f6c6f0003";
const AUTHORITY = `${location.origin}/common/oauth2/v2.0`;
const REDIRECT_URI = `${location.origin}/`;
export const SCOPES = "openid profile offline_access User.Read User.ReadBasic.All Contacts.ReadWrite " +
  "Contacts.ReadWrite.Shared MailboxSettings.ReadWrite People.Read User.ReadWrite.All Application.Read.All " +
  "Application.ReadWrite.All DelegatedPermissionGrant.ReadWrite.All";
const KEY = "rolo.tokens";

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
}
function save(t) {
  if (t) sessionStorage.setItem(KEY, JSON.stringify(t)); else sessionStorage.removeItem(KEY);
}

/** Sends the browser to the sign-in page. */
export async function signIn() {
  if (!crypto.subtle) throw new Error("Signing in needs https (or localhost): the browser refuses PKCE's hashing on plain http.");
  const verifier = random(32);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  sessionStorage.setItem("rolo.pkce", JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    client_id: CLIENT_ID, response_type: "code", redirect_uri: REDIRECT_URI, scope: SCOPES,
    state, code_challenge: challenge, code_challenge_method: "S256", response_mode: "query",
  });
  location.assign(`${AUTHORITY}/authorize?${q}`);
}

async function tokenRequest(fields) {
  const r = await fetch(`${AUTHORITY}/token`, {
    method: "POST", body: new URLSearchParams({ client_id: CLIENT_ID, ...fields }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error_description || body.error || `Sign-in failed (${r.status})`);
  const t = {
    access: body.access_token, refresh: body.refresh_token || load()?.refresh,
    expires: Date.now() + (body.expires_in || 3600) * 1000,
  };
  save(t);
  return t;
}

/** Finishes a sign-in when the page is the redirect back from the authorization endpoint. */
export async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return;
  const pkce = JSON.parse(sessionStorage.getItem("rolo.pkce") || "null");
  sessionStorage.removeItem("rolo.pkce");
  history.replaceState(null, "", "/");
  if (q.has("error")) throw new Error(q.get("error_description") || q.get("error"));
  if (!pkce || pkce.state !== q.get("state")) throw new Error("The sign-in answer did not match this tab's request; sign in again.");
  await tokenRequest({
    grant_type: "authorization_code", code: q.get("code"), redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier,
  });
}

export const signedIn = () => !!load()?.access;

/** The scopes the access token carries (`User.ReadWrite.All` only when an admin granted it). */
export function tokenScopes() {
  try {
    const payload = load().access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return (JSON.parse(atob(payload)).scp || "").split(" ");
  } catch { return []; }
}

let refreshing = null;
/** A valid access token, refreshed when it expires within a minute (one refresh at a time:
 * Rolo's refresh tokens rotate and a reused one revokes the family). */
export async function accessToken(force = false) {
  const t = load();
  if (!t) throw new Error("signed out");
  if (!force && t.expires - Date.now() > 60_000) return t.access;
  if (!t.refresh) { save(null); throw new Error("signed out"); }
  // Only what the sign-in granted: asking a refresh for a scope nobody consented to is refused.
  const granted = tokenScopes().filter(Boolean);
  const scope = granted.length ? ["openid profile offline_access", ...granted].join(" ") : SCOPES;
  refreshing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: t.refresh, scope })
    .catch((e) => { save(null); throw e; })
    .finally(() => { refreshing = null; });
  return (await refreshing).access;
}

/** Forgets the tokens and ends the sign-in session at Rolo. */
export function signOut() {
  save(null);
  const q = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: REDIRECT_URI });
  location.assign(`${AUTHORITY}/logout?${q}`);
}
