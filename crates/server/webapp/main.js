// Rolo People's entry: sign-in, then the three panes (navigation, list, contact) wired to the
// store, and the keyboard shortcuts.

import { signIn, completeSignIn, signedIn, signOut } from "./auth.js";
import { api } from "./api.js";
import { h, $, toast } from "./dom.js";
import { state, subscribe, openMailbox, changed, loadShared } from "./store.js";
import { initList, render, showSearch } from "./list.js";
import { initSidebar, renderSidebar } from "./sidebar.js";
import { showContact, renderEdit, deleteContacts } from "./detail.js";
import { initSearch, renderBulkbar, importFile, exportView, showShortcuts, frequent } from "./tools.js";
import { renderDuplicates } from "./dupes.js";
import { renderAdmin } from "./admin.js";

const TITLES = { all: "All contacts", favorites: "Favourites", flagged: "Flagged", frequent: "Frequently contacted", duplicates: "Duplicates" };
const ADMIN_TITLES = { users: "Users", shared: "Shared mailboxes", delegates: "Delegates", apps: "Apps", passwords: "App passwords" };

function title() {
  const v = state.view;
  if (v.kind === "admin") return ADMIN_TITLES[v.id];
  if (v.kind === "folder") return state.folders.get(v.id)?.displayName || "Folder";
  if (v.kind === "category") return `Category: ${v.id}`;
  return TITLES[v.kind] || "Contacts";
}

let lastView = "";
function renderAll() {
  renderSidebar();
  renderBulkbar();
  $("#view-title").textContent = title();
  // Screens that list things of their own (apps) take the middle column from the contacts.
  const own = state.view.kind === "admin" && state.view.id === "apps";
  $(".listwrap").hidden = own;
  $(".sortby").hidden = own;
  $("#adminlist").hidden = !own;
  $("#new-contact").hidden = state.readOnly || own;
  $("#import").hidden = state.readOnly || own;
  $("#import-file").disabled = state.readOnly;
  $("#export").hidden = own;
  const key = JSON.stringify(state.view);
  if (state.view.kind === "frequent") {
    if (key !== lastView) frequent().then(showSearch).catch((e) => toast(e.message));
  } else if (state.view.kind === "admin") {
    if (key !== lastView) renderAdmin(state.view.id).catch((e) => toast(e.message));
  } else if (state.view.kind === "duplicates") {
    if (key !== lastView) showSearch(renderDuplicates());
  } else if (!$("#search").value.trim()) showSearch(null);
  else render();
  lastView = key;
  document.title = `${title()} – Rolo People`;
}

const progress = (n) => { $("#count").textContent = `Loading… ${new Intl.NumberFormat().format(n)}`; };

/** Opens the signed-in user's mailbox (null) or someone else's by address: as a whole, or
 * (shared folder by folder) only its shared folders, read-only where no grant allows writing. */
async function open(upn) {
  try {
    if (!upn) return await openMailbox("/me", state.me.displayName, false, progress);
    const mailbox = `/users/${upn}`;
    await loadShared();
    const entry = state.shared.find((s) => s.userPrincipalName.toLowerCase() === upn.toLowerCase());
    const name = entry?.displayName || upn;
    if (entry && !entry.role) {
      await openMailbox(mailbox, name, !entry.folders.some((f) => f.role === "write"), progress, entry.folders);
      return;
    }
    await openMailbox(mailbox, name, false, progress);
    state.readOnly = entry ? entry.role === "read" : await isReadOnly(mailbox);
    changed();
  } catch (e) {
    toast(e.status === 403 || e.status === 404 ? `You have no access to ${upn}'s contacts.` : e.message);
    if (upn) await openMailbox("/me", state.me.displayName, false, progress);
  }
}

/** Whether the mailbox's contacts are read-only for this user: a write with an impossible
 * If-Match is refused with 403 without write access, else with 412 (nothing changes). */
async function isReadOnly(mailbox) {
  const any = state.contacts.keys().next().value;
  if (!any) return false;
  try {
    await api(`${mailbox}/contacts/${any}`, { method: "PATCH", body: {}, headers: { "If-Match": 'W/"rolo-probe"' } });
  } catch (e) { return e.status === 403; }
  return false;
}

function shortcuts(e) {
  if (e.target.closest("input, textarea, select, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
  const act = {
    "/": () => $("#search").focus(),
    "?": showShortcuts,
    n: () => !state.readOnly && renderEdit(null),
    e: () => state.current && !state.readOnly && $("#detail button.primary")?.click(),
    Delete: () => state.current && !state.readOnly && deleteContacts([state.current]),
  }[e.key];
  if (act) { e.preventDefault(); act(); }
}

async function start() {
  $("#signin-button").addEventListener("click", () => signIn().catch((e) => { $("#signin-error").textContent = e.message; }));
  try {
    await completeSignIn();
  } catch (e) {
    $("#signin-error").textContent = e.message;
  }
  if (!signedIn()) { $("#signin").hidden = false; return; }
  try {
    state.me = await api("/me");
  } catch {
    $("#signin").hidden = false;
    return;
  }
  $("#shell").hidden = false;
  $("#searchbox").hidden = false;
  $("#who").replaceChildren(h("span", {}, state.me.displayName), h("button", { id: "signout", onclick: signOut }, "Sign out"));
  const file = h("input.sr", { type: "file", id: "import-file", "aria-label": "Import a vCard or CSV file", accept: ".vcf,.vcard,.csv,text/vcard,text/csv",
    onchange: (e) => e.target.files[0] && importFile(e.target.files[0]).then(() => { e.target.value = ""; }) });
  $(".listbar").append(file, h("label.button", { for: "import-file", id: "import" }, "Import…"),
    h("button", { id: "export", onclick: () => exportView().catch((e) => toast(e.message)) }, "Export"));
  $("#sort").value = state.sort;
  $("#sort").addEventListener("change", (e) => { state.sort = e.target.value; localStorage.setItem("rolo.sort", state.sort); changed(); });
  $("#new-contact").addEventListener("click", () => renderEdit(null));
  initList((id, focus) => showContact(id, focus));
  initSidebar(open);
  initSearch();
  subscribe(renderAll);
  document.addEventListener("keydown", shortcuts);
  await loadShared();
  await open(null);
}

start();
