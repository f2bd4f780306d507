// The navigation: views, the folder tree at any depth (drop contacts on a folder to move them),
// folder create/rename/delete, categories as coloured labels, and other people's mailboxes.

import { h, $, ask, confirmAsk, toast, presetColour, collator } from "./dom.js";
import { api } from "./api.js";
import { state, changed, applyContact, loadCategories } from "./store.js";
import { isAdmin, canSeeApps } from "./admin.js";

let onMailbox = () => {};

/** A drag under way (a folder or contact rows): redrawing the sidebar then would replace the
 * element dragged or dropped on, and the browser drops the drag; the redraw waits for its end. */
let dragging = false;
let redrawLater = false;

export function initSidebar(openMailbox) {
  onMailbox = openMailbox;
  document.addEventListener("dragstart", () => { dragging = true; });
  document.addEventListener("dragend", () => {
    dragging = false;
    if (redrawLater) { redrawLater = false; renderSidebar(); }
  });
}

function go(view) {
  state.view = view;
  state.selected.clear();
  changed();
  $("#list").scrollTop = 0;
}

const isView = (kind, id) => state.view.kind === kind && (id === undefined || state.view.id === id);

function item(label, view, extra = {}) {
  const current = isView(view.kind, view.id);
  return h("li", {}, h("button.nav", {
    "aria-current": current ? "page" : false, class: `nav${current ? " current" : ""}`,
    onclick: () => go(view), ...extra,
  }, label));
}

/** Moves contacts to a folder (PATCH parentFolderId), reporting how many moved. */
export async function moveContacts(ids, folderId) {
  let moved = 0;
  for (const id of ids) {
    const c = state.contacts.get(id);
    if (!c || c.parentFolderId === folderId) continue;
    const updated = await api(`${state.mailbox}/contacts/${id}`, { method: "PATCH", body: { parentFolderId: folderId } });
    applyContact({ ...updated, parentFolderId: folderId });
    moved++;
  }
  changed();
  if (moved) toast(`Moved ${moved} contact${moved === 1 ? "" : "s"} to ${state.folders.get(folderId)?.displayName}.`);
}

/** Moves a folder (with everything in it) under another (PATCH parentFolderId). */
async function moveFolder(id, parentId) {
  const f = state.folders.get(id);
  if (!f || id === parentId || f.parentFolderId === parentId) return;
  for (let p = state.folders.get(parentId); p; p = state.folders.get(p.parentFolderId)) if (p.id === id) return;
  try {
    state.folders.set(id, await api(`${state.mailbox}/contactFolders/${id}`, { method: "PATCH", body: { parentFolderId: parentId } }));
    changed();
    toast(`Moved the folder ${f.displayName} into ${state.folders.get(parentId)?.displayName}.`);
  } catch (e) { toast(e.message); }
}

/** The keyboard way to what dragging a folder does. */
async function askMoveFolder(f) {
  const targets = [...state.folders.values()].filter((t) => t.id !== f.id).map((t) => [t.id, t.displayName]);
  const v = await ask(`Move ${f.displayName} into`, [{ name: "to", label: "Folder", options: targets }], "Move");
  if (v) await moveFolder(f.id, v.to);
}

const CONTACTS = "application/x-rolo-contacts";
const FOLDER = "application/x-rolo-folder";

function dropTarget(el, folderId) {
  if (state.readOnly) return el;
  el.addEventListener("dragover", (e) => {
    if (e.dataTransfer.types.includes(CONTACTS) || e.dataTransfer.types.includes(FOLDER)) { e.preventDefault(); el.classList.add("drop"); }
  });
  el.addEventListener("dragleave", () => el.classList.remove("drop"));
  el.addEventListener("drop", (e) => {
    e.preventDefault();
    el.classList.remove("drop");
    const folder = e.dataTransfer.getData(FOLDER);
    if (folder) { moveFolder(folder, folderId); return; }
    const ids = JSON.parse(e.dataTransfer.getData(CONTACTS) || "[]");
    moveContacts(ids, folderId).catch((err) => toast(err.message));
  });
  return el;
}

/** Top-level folders sit under the mailbox root or (as Graph lists them) the default folder. */
const isTop = (f) => f.parentFolderId === state.defaultFolder || !state.folders.has(f.parentFolderId);

function tree(parentId, depth) {
  const kids = [...state.folders.values()]
    .filter((f) => f.id !== state.defaultFolder && (parentId === null ? isTop(f) : f.parentFolderId === parentId))
    .sort((a, b) => collator.compare(a.displayName, b.displayName));
  if (!kids.length) return null;
  return h("ul", {}, kids.map((f) => {
    const li = item(f.displayName, { kind: "folder", id: f.id }, state.readOnly ? {} : {
      draggable: true, ondragstart: (e) => { e.dataTransfer.setData(FOLDER, f.id); e.dataTransfer.effectAllowed = "move"; },
    });
    dropTarget(li.firstChild, f.id);
    li.firstChild.style.paddingInlineStart = `${0.75 + depth * 0.9}rem`;
    const sub = tree(f.id, depth + 1);
    if (sub) li.append(sub);
    return li;
  }));
}

export async function newFolder() {
  const parent = isView("folder") && state.view.id !== state.defaultFolder ? state.view.id : null;
  const v = await ask(parent ? `New folder in ${state.folders.get(parent).displayName}` : "New folder",
    [{ name: "name", label: "Folder name", required: true }], "Create");
  if (!v?.name) return;
  try {
    const path = parent ? `${state.mailbox}/contactFolders/${parent}/childFolders` : `${state.mailbox}/contactFolders`;
    const f = await api(path, { method: "POST", body: { displayName: v.name } });
    state.folders.set(f.id, f);
    go({ kind: "folder", id: f.id });
  } catch (e) { toast(e.message); }
}

async function renameFolder(f) {
  const v = await ask(`Rename ${f.displayName}`, [{ name: "name", label: "Folder name", value: f.displayName, required: true }], "Rename");
  if (!v?.name) return;
  try {
    state.folders.set(f.id, await api(`${state.mailbox}/contactFolders/${f.id}`, { method: "PATCH", body: { displayName: v.name } }));
    changed();
  } catch (e) { toast(e.message); }
}

async function deleteFolder(f) {
  if (!(await confirmAsk(`Delete the folder ${f.displayName} and the contacts in it?`, "Delete"))) return;
  try {
    await api(`${state.mailbox}/contactFolders/${f.id}`, { method: "DELETE" });
    state.folders.delete(f.id);
    for (const c of [...state.contacts.values()]) if (c.parentFolderId === f.id) state.contacts.delete(c.id);
    go({ kind: "all" });
    toast(`Deleted the folder ${f.displayName}.`);
  } catch (e) { toast(e.message); }
}

async function newCategory() {
  const v = await ask("New category", [{ name: "name", label: "Name", required: true },
    { name: "color", label: "Colour", options: COLOURS, value: "preset0" }], "Create");
  if (!v?.name) return;
  try {
    await api(`${state.mailbox}/outlook/masterCategories`, { method: "POST", body: { displayName: v.name, color: v.color } });
    await loadCategories();
  } catch (e) { toast(e.message); }
}

const COLOURS = Array.from({ length: 25 }, (_, i) => [`preset${i}`, `Colour ${i + 1}`]);

async function recolourCategory(cat) {
  const v = await ask(`Colour of ${cat.displayName}`, [{ name: "color", label: "Colour", options: COLOURS, value: cat.color }], "Save");
  if (!v) return;
  try {
    await api(`${state.mailbox}/outlook/masterCategories/${cat.id}`, { method: "PATCH", body: { color: v.color } });
    await loadCategories();
  } catch (e) { toast(e.message); }
}

async function deleteCategory(cat) {
  if (!(await confirmAsk(`Delete the category ${cat.displayName}? Contacts keep the name without its colour.`, "Delete"))) return;
  try {
    await api(`${state.mailbox}/outlook/masterCategories/${cat.id}`, { method: "DELETE" });
    go({ kind: "all" });
    await loadCategories();
  } catch (e) { toast(e.message); }
}

/** Opens someone else's mailbox by address (delegation, a shared mailbox, shared folders). */
async function openOther() {
  const v = await ask("Open another person's contacts", [{ name: "upn", label: "Their e-mail address", type: "email", required: true }], "Open");
  if (!v?.upn) return;
  const known = JSON.parse(localStorage.getItem("rolo.shared") || "[]");
  if (!known.includes(v.upn)) localStorage.setItem("rolo.shared", JSON.stringify([...known, v.upn]));
  onMailbox(v.upn);
}

/** What a "Shared with me" entry opens: the whole mailbox (with its role) or some folders. */
function sharedLabel(s) {
  const what = s.role ? (s.role === "read" ? "read-only" : "read and write")
    : `${s.folders.length === 1 ? "folder" : "folders"} ${s.folders.map((f) => f.displayName).join(", ")}`;
  return [s.displayName, h("span.meta", {}, ` · ${s.userPurpose === "shared" ? "shared mailbox, " : ""}${what}`)];
}

export function renderSidebar() {
  if (dragging) { redrawLater = true; return; }
  const nav = $("#sidebar");
  const ro = state.readOnly;
  // A mailbox shared folder by folder has no folder tree or categories to change.
  const whole = !state.folderOnly;
  const views = h("ul", {},
    item("All contacts", { kind: "all" }),
    item("Favourites", { kind: "favorites" }),
    item("Flagged", { kind: "flagged" }),
    state.mailbox === "/me" ? item("Frequently contacted", { kind: "frequent" }) : null,
    ro || !whole ? null : item("Duplicates", { kind: "duplicates" }));
  const def = state.folders.get(state.defaultFolder);
  const folders = h("ul", {});
  if (def) {
    const li = item(def.displayName || "Contacts", { kind: "folder", id: def.id });
    dropTarget(li.firstChild, def.id);
    folders.append(li);
  }
  const sub = tree(null, 0);
  if (sub) folders.append(...sub.children);
  const folder = isView("folder") && state.view.id !== state.defaultFolder ? state.folders.get(state.view.id) : null;
  const folderTools = ro || !whole ? null : h("div.tools", {},
    h("button.small", { onclick: newFolder }, "New folder"),
    folder ? h("button.small", { onclick: () => renameFolder(folder) }, "Rename") : null,
    folder ? h("button.small", { onclick: () => askMoveFolder(folder) }, "Move") : null,
    folder ? h("button.small", { onclick: () => deleteFolder(folder) }, "Delete folder") : null);
  const category = isView("category") ? state.categories.find((c) => c.displayName === state.view.id) : null;
  const cats = h("ul", {}, state.categories.map((c) => {
    const li = item(c.displayName, { kind: "category", id: c.displayName });
    const dot = h("span.dot", { "aria-hidden": "true" });
    dot.style.background = presetColour(c.color);
    li.firstChild.prepend(dot);
    return li;
  }));
  const known = new Set(state.shared.map((s) => s.userPrincipalName.toLowerCase()));
  const typed = JSON.parse(localStorage.getItem("rolo.shared") || "[]").filter((upn) => !known.has(upn.toLowerCase()));
  const other = (upn, label) => {
    const current = state.mailbox.toLowerCase() === `/users/${upn}`.toLowerCase();
    return h("li", {}, h("button.nav", { class: `nav${current ? " current" : ""}`, "aria-current": current ? "page" : false, onclick: () => onMailbox(upn) }, label));
  };
  const mailboxes = h("ul", {},
    state.mailbox !== "/me" ? h("li", {}, h("button.nav", { onclick: () => onMailbox(null) }, "My contacts")) : null,
    state.shared.map((s) => other(s.userPrincipalName, sharedLabel(s))),
    typed.map((upn) => other(upn, upn)));
  const admin = [isAdmin() && item("Users", { kind: "admin", id: "users" }), isAdmin() && item("Shared mailboxes", { kind: "admin", id: "shared" }),
    isAdmin() && item("Delegates", { kind: "admin", id: "delegates" }), canSeeApps() && item("Apps", { kind: "admin", id: "apps" })].filter(Boolean);
  nav.replaceChildren(...[
    state.mailbox !== "/me" ? h("p.mailbox", {}, `${state.mailboxName}${ro ? " (read-only)" : ""}`) : null,
    h("h2", {}, "Views"), views,
    h("h2", {}, "Folders"), folders, folderTools,
    whole ? h("h2", {}, "Categories") : null, whole ? cats : null, ro || !whole ? null : h("div.tools", {}, h("button.small", { onclick: newCategory }, "New category"),
      category ? h("button.small", { onclick: () => recolourCategory(category) }, "Colour") : null,
      category ? h("button.small", { onclick: () => deleteCategory(category) }, "Delete category") : null),
    h("h2", {}, "Shared with me"), mailboxes, h("div.tools", {}, h("button.small", { onclick: openOther }, "Open a mailbox…")),
    h("h2", {}, "Account"), h("ul", {}, item("App passwords", { kind: "admin", id: "passwords" })),
    admin.length ? h("h2", {}, "Administration") : null,
    admin.length ? h("ul", {}, admin) : null,
  ].filter(Boolean));
}
