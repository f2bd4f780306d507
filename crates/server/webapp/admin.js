// Administration, what `rolo users` and `rolo apps` do, for whoever an administrator granted the
// scopes to (User.ReadWrite.All or Directory.ReadWrite.All: users, shared mailboxes and their
// members, delegates; Application.Read.All and DelegatedPermissionGrant.ReadWrite.All: apps and
// consent; Application.ReadWrite.All: registering, changing and deleting apps); and every user's
// own CardDAV app passwords. Graph's /users, /applications and /oauth2PermissionGrants, and
// Rolo's extensions mailboxPermissions, appPasswords. Apps: a list in the middle column, the
// picked one on the right, as contacts are.

import { h, $, toast, collator, confirmAsk } from "./dom.js";
import { api, all } from "./api.js";
import { tokenScopes, CLIENT_ID } from "./auth.js";
import { loadShared } from "./store.js";

const has = (re) => tokenScopes().some((s) => re.test(s));
export const isAdmin = () => has(/^(User|Directory)\.ReadWrite\.All$/i);
export const canSeeApps = () => has(/^(Application|Directory)\.Read(Write)?\.All$/i);
const canWriteApps = () => has(/^(Application|Directory)\.ReadWrite\.All$/i);
const canConsent = () => has(/^(DelegatedPermissionGrant|Directory)\.ReadWrite\.All$/i);
const GRAPH = "00000003-0000-0000-c000-000000000000";

const byName = (a, b) => collator.compare(a.displayName || "", b.displayName || "");
const directory = async () => (await all("/users?$select=id,displayName,userPrincipalName,accountEnabled,mailboxSettings&$top=999")).sort(byName);
const isShared = (u) => u.mailboxSettings?.userPurpose === "shared";
const when = (iso) => (iso ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso)) : "");

/** A labelled form ([{name, label, type, options}]) whose errors show in it, not in a toast. */
function form(id, title, fields, submit, onSubmit) {
  const error = h("p.error", { role: "alert" });
  const f = h("form.edit", { "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title), error,
    fields.map((x) => {
      const fid = `${id}-${x.name}`;
      const input = x.options
        ? h("select", { id: fid, name: x.name }, x.options.map(([v, l]) => h("option", { value: v }, l)))
        : h(x.textarea ? "textarea" : "input", { id: fid, name: x.name, type: x.textarea ? null : x.type || "text", required: !x.optional, autocomplete: x.type === "password" ? "new-password" : "off" });
      if (x.value) input.value = x.value;
      return h("p", {}, h("label", { for: fid }, x.label), input);
    }),
    h("p.actions", {}, h("button.primary", { type: "submit" }, submit)));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try { await onSubmit(Object.fromEntries(new FormData(f))); } catch (err) { error.textContent = err.message; }
  });
  return f;
}

function table(cls, caption, heads, rows) {
  return h(`table.users.${cls}`, {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

const ROLES = [["read", "Read"], ["write", "Read and write"]];
const roleName = (r) => ROLES.find(([v]) => v === r)?.[1] || r;

/** Who holds a whole-mailbox grant on `u` (its delegates, or a shared mailbox's members). */
async function grantees(u, noun) {
  const base = `/users/${u.id}/mailboxPermissions`;
  const list = (await api(base)).value;
  const again = () => Promise.all([renderAdmin(screen), loadShared()]);
  const rows = list.map((p) => {
    const who = p.emailAddress.name || p.emailAddress.address;
    const role = h("select", { "aria-label": `Access of ${who}` }, ROLES.map(([v, l]) => h("option", { value: v, selected: v === p.role }, l)));
    role.addEventListener("change", async () => {
      try {
        await api(`${base}/${p.id}`, { method: "PATCH", body: { role: role.value } });
        toast(`${who} now has ${roleName(role.value).toLowerCase()} access to ${u.displayName}.`);
        await loadShared();
      } catch (e) { toast(e.message); }
    });
    const remove = h("button.small", { "aria-label": `Remove ${who}`, onclick: async () => {
      if (!(await confirmAsk(`Remove ${who}'s access to ${u.displayName}?`, "Remove"))) return;
      try { await api(`${base}/${p.id}`, { method: "DELETE" }); toast(`Removed ${who} from ${u.displayName}.`); await again(); } catch (e) { toast(e.message); }
    } }, "Remove");
    return [who, p.emailAddress.address, role, remove];
  });
  return [
    table("grantees", `${list.length} ${noun}${list.length === 1 ? "" : "s"} of ${u.displayName}`, ["Name", "E-mail", "Access", ""], rows),
    form("grant", `Add a ${noun} to ${u.displayName}`, [{ name: "address", label: "Their e-mail address", type: "email" }, { name: "role", label: "Access", options: ROLES }],
      `Add ${noun}`, async (d) => {
        await api(base, { method: "POST", body: { emailAddress: { address: d.address }, role: d.role } });
        toast(`${d.address} is now a ${noun} of ${u.displayName}.`);
        await again();
      }),
  ];
}

/** The mailbox a screen shows, picked from a list of `candidates`. */
function picker(label, candidates, current, onPick) {
  const sel = h("select", { id: "admin-pick" }, candidates.map((u) => h("option", { value: u.id, selected: u.id === current?.id }, `${u.displayName} (${u.userPrincipalName})`)));
  sel.addEventListener("change", () => onPick(sel.value));
  return h("p.pick", {}, h("label", { for: "admin-pick" }, label), sel);
}

let picked = {};

async function users() {
  const list = await directory();
  return [h("h2", {}, "Users"),
    table("people", `${list.length} users`, ["Name", "User name", "Sign-in"],
      list.map((u) => [u.displayName || "", u.userPrincipalName, isShared(u) ? "shared mailbox" : u.accountEnabled === false ? "disabled" : "enabled"])),
    form("new-user", "New user", [{ name: "displayName", label: "Display name" }, { name: "userPrincipalName", label: "User name (e-mail)", type: "email" },
      { name: "password", label: "Password", type: "password" }], "Create user", async (d) => {
      const u = await api("/users", { method: "POST", body: {
        accountEnabled: true, displayName: d.displayName, userPrincipalName: d.userPrincipalName,
        mailNickname: d.userPrincipalName.split("@")[0], passwordProfile: { password: d.password },
      } });
      toast(`Created the user ${u.userPrincipalName}.`);
      await renderAdmin("users");
    })];
}

async function mailboxes(kind) {
  const shared = kind === "shared";
  const list = (await directory()).filter((u) => isShared(u) === shared && (shared || u.accountEnabled !== false));
  const u = list.find((x) => x.id === picked[kind]) || list[0];
  const out = [h("h2", {}, shared ? "Shared mailboxes" : "Delegates")];
  if (shared) {
    out.push(h("p.meta", {}, "Nobody signs in as a shared mailbox: its members open it from Shared with me."));
  } else {
    out.push(h("p.meta", {}, "A delegate opens another person's contacts from Shared with me, read-only or to change them."));
  }
  if (u) {
    out.push(picker(shared ? "Shared mailbox" : "Person", list, u, (id) => { picked[kind] = id; renderAdmin(kind); }));
    out.push(...(await grantees(u, shared ? "member" : "delegate")));
  } else {
    out.push(h("p", {}, "No shared mailbox yet."));
  }
  if (shared) {
    out.push(form("new-shared", "New shared mailbox", [{ name: "displayName", label: "Display name" }, { name: "userPrincipalName", label: "Address", type: "email" }],
      "Create shared mailbox", async (d) => {
        const m = await api("/users", { method: "POST", body: {
          displayName: d.displayName, userPrincipalName: d.userPrincipalName, accountEnabled: false,
          mailNickname: d.userPrincipalName.split("@")[0], mailboxSettings: { userPurpose: "shared" },
        } });
        picked.shared = m.id;
        toast(`Created the shared mailbox ${m.userPrincipalName}.`);
        await renderAdmin("shared");
      }));
  }
  return out;
}

let pickedApp = null;
const lines = (v) => (v || "").split(/[\s,]+/).filter(Boolean);

/** The middle column for a screen that lists things: one button per item, the picked one current. */
function middle(caption, items, current, onPick, add) {
  $("#count").textContent = caption;
  $("#adminlist").replaceChildren(h("ul", { "aria-label": caption }, items.map(([id, name, sub]) => h("li", {},
    h(`button.item${id === current ? ".current" : ""}`, { "aria-current": id === current ? "true" : null, onclick: () => id !== current && onPick(id) },
      h("span.name", {}, name), h("span.sub", {}, sub))))), add ? h("p.tools", {}, h("button.primary", { onclick: add[1] }, add[0])) : null);
}

/** Shows a secret once, in the detail pane, after the screen is drawn again. */
const showSecret = (title, text) => $("#new-secret").replaceChildren(h("section.secret", { "aria-labelledby": "secret-title", role: "status" },
  h("h3", { id: "secret-title" }, title), h("p", {}, h("code", { id: "secret-text" }, text)),
  h("p.meta", {}, "Copy it into the app now: it is shown only this once.")));

async function newSecret(a) {
  const p = await api(`/applications/${a.id}/addPassword`, { method: "POST", body: { passwordCredential: { displayName: "Rolo People" } } });
  pickedApp = a.id;
  await renderAdmin("apps");
  showSecret(`Client secret of ${a.displayName}`, p.secretText);
}

async function apps() {
  const write = canWriteApps();
  const list = [...(await all("/applications")), { id: CLIENT_ID, appId: CLIENT_ID, servicePrincipalId: CLIENT_ID, displayName: "Rolo People", builtIn: true }].sort(byName);
  const kind = (a) => (a.builtIn ? "built in" : a.isFallbackPublicClient ? "public client" : "confidential client");
  const a = pickedApp === "new" && write ? null : list.find((x) => x.id === pickedApp) || list[0];
  const pick = (id) => { pickedApp = id; renderAdmin("apps"); };
  middle(`${list.length} registered apps`, list.map((x) => [x.id, x.displayName, kind(x)]), a?.id, pick, write && ["Register an app", () => pick("new")]);
  const people = await directory();
  const upn = (id) => people.find((p) => p.id === id)?.userPrincipalName || id;
  const out = [];
  if (!a) {
    out.push(form("new-app", "Register an app", [{ name: "displayName", label: "Name" },
      { name: "kind", label: "Kind", options: [["public", "Public client (an app on a device, no secret)"], ["confidential", "Confidential client (a server, with a secret)"]] },
      { name: "uris", label: "Redirect URIs (one a line)", textarea: true, optional: true },
      { name: "roles", label: "Application permissions (confidential only, e.g. Contacts.Read)", optional: true }], "Register", async (d) => {
      const pub = d.kind === "public";
      const made = await api("/applications", { method: "POST", body: { displayName: d.displayName, isFallbackPublicClient: pub,
        [pub ? "publicClient" : "web"]: { redirectUris: lines(d.uris) }, applicationPermissions: lines(d.roles) } });
      toast(`Registered ${made.displayName}.`);
      if (pub) pick(made.id); else await newSecret(made);
    }));
    return [h("h2", {}, "New app"), ...out, h("div", { id: "new-secret" })];
  }
  const uris = [...a.publicClient?.redirectUris || [], ...a.web?.redirectUris || []];
  out.push(h("dl", {}, h("dt", {}, "Client id"), h("dd", {}, h("code", {}, a.appId)), h("dt", {}, "Kind"), h("dd", {}, kind(a)),
    a.builtIn ? null : [h("dt", {}, "Redirect URIs"), h("dd", {}, uris.join(" ") || "none"),
      h("dt", {}, "Application permissions"), h("dd", {}, a.applicationPermissions.join(" ") || "none"),
      h("dt", {}, "Mailboxes it reaches"), h("dd", {}, a.mailboxAccessPolicy.map(upn).join(" ") || "every mailbox its permissions allow")]));
  if (write && !a.builtIn) {
    const fields = [{ name: "displayName", label: "Name", value: a.displayName },
      { name: "uris", label: "Redirect URIs (one a line)", textarea: true, optional: true, value: uris.join("\n") }];
    if (!a.isFallbackPublicClient) fields.push({ name: "roles", label: "Application permissions", optional: true, value: a.applicationPermissions.join(" ") },
      { name: "policy", label: "Only these mailboxes (user names, one a line; empty: all)", textarea: true, optional: true, value: a.mailboxAccessPolicy.map(upn).join("\n") });
    out.push(form("edit-app", `Change ${a.displayName}`, fields, "Save app", async (d) => {
      const body = { displayName: d.displayName, [a.isFallbackPublicClient ? "publicClient" : "web"]: { redirectUris: lines(d.uris) } };
      if (!a.isFallbackPublicClient) Object.assign(body, { applicationPermissions: lines(d.roles), mailboxAccessPolicy: lines(d.policy) });
      await api(`/applications/${a.id}`, { method: "PATCH", body });
      toast(`Saved ${d.displayName}.`);
      await renderAdmin("apps");
    }), h("p.actions", {}, a.isFallbackPublicClient ? null : h("button", { onclick: async () => {
      if (await confirmAsk(`Make a new client secret for ${a.displayName}? The current one stops working.`, "New secret")) await newSecret(a).catch((e) => toast(e.message));
    } }, "New client secret"), h("button.danger", { onclick: async () => {
      if (!(await confirmAsk(`Delete the app ${a.displayName}? Its sign-ins and consents end.`, "Delete"))) return;
      try { await api(`/applications/${a.id}`, { method: "DELETE" }); pickedApp = null; toast(`Deleted ${a.displayName}.`); await renderAdmin("apps"); } catch (e) { toast(e.message); }
    } }, "Delete app")), h("div", { id: "new-secret" }));
  }
  if (canConsent()) {
    const grants = (await all("/oauth2PermissionGrants")).filter((g) => [a.servicePrincipalId, a.appId].includes(g.clientId));
    const rows = grants.map((g) => {
      const who = g.principalId ? upn(g.principalId) : "All users";
      return [who, g.scope, h("button.small", { "aria-label": `Revoke ${a.displayName} for ${who}`, onclick: async () => {
        if (!(await confirmAsk(`Revoke the consent of ${a.displayName} for ${who}?`, "Revoke"))) return;
        try { await api(`/oauth2PermissionGrants/${g.id}`, { method: "DELETE" }); toast(`Revoked ${a.displayName}'s consent.`); await renderAdmin("apps"); } catch (e) { toast(e.message); }
      } }, "Revoke")];
    });
    out.push(table("consents", `${grants.length} admin consent${grants.length === 1 ? "" : "s"}`, ["For", "Delegated permissions", ""], rows),
      form("consent", `Grant consent to ${a.displayName}`, [
        { name: "for", label: "For", options: [["", "All users"], ...people.filter((p) => !isShared(p)).map((p) => [p.id, p.userPrincipalName])] },
        { name: "scope", label: "Delegated permissions" }], "Grant consent", async (d) => {
        await api("/oauth2PermissionGrants", { method: "POST", body: {
          clientId: a.appId, consentType: d.for ? "Principal" : "AllPrincipals", principalId: d.for || null, resourceId: GRAPH, scope: d.scope,
        } });
        toast(`Granted ${d.scope} to ${a.displayName}.`);
        await renderAdmin("apps");
      }));
  }
  return [h("h2", {}, a.displayName), ...out];
}

async function passwords() {
  const list = (await api("/me/appPasswords")).value;
  const rows = list.map((p) => [p.displayName, when(p.createdDateTime), h("button.small", { "aria-label": `Revoke ${p.displayName}`, onclick: async () => {
    if (!(await confirmAsk(`Revoke the app password ${p.displayName}? Apps using it stop syncing.`, "Revoke"))) return;
    try { await api(`/me/appPasswords/${p.id}`, { method: "DELETE" }); toast(`Revoked the app password ${p.displayName}.`); await renderAdmin("passwords"); } catch (e) { toast(e.message); }
  } }, "Revoke")]);
  const secret = h("div", { id: "new-secret" });
  return [h("h2", {}, "App passwords"),
    h("p.meta", {}, `Address-book apps (CardDAV) sign in with your user name and an app password, at ${location.origin}/dav/.`),
    table("passwords", `${list.length} app password${list.length === 1 ? "" : "s"}`, ["Name", "Created", ""], rows),
    form("new-password", "New app password", [{ name: "displayName", label: "What it is for" }], "Create app password", async (d) => {
      const p = await api("/me/appPasswords", { method: "POST", body: { displayName: d.displayName } });
      await renderAdmin("passwords");
      showSecret(`App password for ${p.displayName}`, p.secretText);
    }),
    secret];
}

const SCREENS = { users, shared: () => mailboxes("shared"), delegates: () => mailboxes("delegates"), apps, passwords };
let screen = "users";

/** Renders one administration screen (`users`, `shared`, `delegates`, `apps`, `passwords`). */
export async function renderAdmin(id = screen) {
  screen = id;
  const parts = await SCREENS[id]();
  if (screen === id) $("#detail").replaceChildren(...parts);
}
