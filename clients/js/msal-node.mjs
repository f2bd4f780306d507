// Microsoft's Graph JavaScript client with a token from MSAL Node (@azure/msal-node), against
// Rolo over TLS. Run by crates/rolo/tests/e2e/msal.rs (not a *.test.mjs: it needs https and its
// own apps), which sets:
//   ROLO_BASE_URL        the server root, e.g. https://localhost:8443
//   ROLO_TENANT_ID       Rolo's tenant id
//   ROLO_ISSUER          the issuer Rolo's tokens and discovery document name
//   ROLO_SECRET_APP_ID, ROLO_SECRET_APP_SECRET  a confidential client with Contacts.ReadWrite
//   ROLO_PUBLIC_APP_ID   a public client, for the user's own sign-in
//   ROLO_USER_ID, ROLO_USER_UPN, ROLO_USER_PASSWORD  the user
//   NODE_EXTRA_CA_CERTS  the CA that signed Rolo's certificate
// The apps are set up as Microsoft documents them; only the authority and the Graph client's
// baseUrl point at Rolo, and knownAuthorities lists Rolo's host (so MSAL trusts a host that is
// not one of Microsoft's instead of asking login.microsoftonline.com about it) and its issuer's
// host (MSAL checks the discovery document's issuer against the authority's host: Rolo's
// issuer, https://login.rolo.local/{tenant}/v2.0, is not the host it is served on).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { Client } from "@microsoft/microsoft-graph-client";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run this through cargo test -p rolo --test e2e msal`);
  return value;
}

const BASE_URL = required("ROLO_BASE_URL").replace(/\/$/, "");
const KNOWN_AUTHORITIES = [new URL(BASE_URL).host, new URL(required("ROLO_ISSUER")).host];
const AUTHORITY = `${BASE_URL}/${required("ROLO_TENANT_ID")}`;
const USER_ID = required("ROLO_USER_ID");
const USER_UPN = required("ROLO_USER_UPN");

function graphClient(accessToken) {
  return Client.init({
    baseUrl: BASE_URL,
    customHosts: new Set([new URL(BASE_URL).hostname]),
    authProvider: (done) => done(null, accessToken),
  });
}

test("client credentials with a secret, then the Graph client", async () => {
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: required("ROLO_SECRET_APP_ID"),
      clientSecret: required("ROLO_SECRET_APP_SECRET"),
      authority: AUTHORITY,
      knownAuthorities: KNOWN_AUTHORITIES,
    },
  });
  const result = await app.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] });
  assert.ok(result?.accessToken, "no access token");
  assert.equal(result.tokenType, "Bearer");
  const client = graphClient(result.accessToken);
  const created = await client.api(`/users/${USER_ID}/contacts`).post({ givenName: "Msal", surname: "Node" });
  assert.equal(created.displayName, "Msal Node");
  const page = await client.api(`/users/${USER_ID}/contacts`).filter(`id eq '${created.id}'`).get();
  assert.deepEqual(page.value.map((c) => c.id), [created.id]);
  // The second call is answered from MSAL's cache.
  const again = await app.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] });
  assert.equal(again.accessToken, result.accessToken);
  assert.equal(again.fromCache, true);
});

test("a user's token (username and password), then /me with the Graph client", async () => {
  const app = new PublicClientApplication({
    auth: { clientId: required("ROLO_PUBLIC_APP_ID"), authority: AUTHORITY, knownAuthorities: KNOWN_AUTHORITIES },
  });
  const result = await app.acquireTokenByUsernamePassword({
    scopes: ["User.Read", "Contacts.ReadWrite"],
    username: USER_UPN,
    password: required("ROLO_USER_PASSWORD"),
  });
  assert.ok(result?.accessToken, "no access token");
  assert.equal(result.account.username, USER_UPN);
  const me = await graphClient(result.accessToken).api("/me").get();
  assert.equal(me.id, USER_ID);
  // Silent renewal with the refresh token MSAL cached.
  const renewed = await app.acquireTokenSilent({
    scopes: ["User.Read", "Contacts.ReadWrite"],
    account: result.account,
    forceRefresh: true,
  });
  assert.notEqual(renewed.accessToken, result.accessToken);
  assert.equal(renewed.fromCache, false);
  const contacts = await graphClient(renewed.accessToken).api("/me/contacts").top(5).get();
  assert.ok(Array.isArray(contacts.value));
});
