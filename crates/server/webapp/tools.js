// Search as you type, bulk actions on the selection, import and export with progress, the
// People API's "Frequently contacted", and the keyboard shortcut list.

import { h, $, ask, toast } from "./dom.js";
import { api, all } from "./api.js";
import { state, changed, applyContact, targetFolder, sortName } from "./store.js";
import { showSearch } from "./list.js";
import { deleteContacts, exportContacts } from "./detail.js";
import { moveContacts } from "./sidebar.js";

let searchSeq = 0;
let searchTimer = null;

/** `$search` on the open mailbox's contacts, 120 ms after the last key; stale answers are dropped. */
export function initSearch() {
  $("#search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    const q = e.target.value.trim();
    if (!q) { searchSeq++; showSearch(null); return; }
    searchTimer = setTimeout(() => runSearch(q), 120);
  });
}

async function runSearch(q) {
  const seq = ++searchSeq;
  try {
    const term = `"${q.replace(/"/g, "")}"`;
    const people = state.mailbox === "/me"
      ? api(`/me/people?$search=${encodeURIComponent(term)}&$top=25`).catch(() => ({ value: [] }))
      : Promise.resolve({ value: [] });
    // A mailbox shared folder by folder is searched folder by folder: its whole is closed.
    const lists = state.folderOnly ? [...state.folders.keys()].map((id) => `${state.mailbox}/contactFolders/${id}/contacts`) : [`${state.mailbox}/contacts`];
    const [ppl, ...pages] = await Promise.all([people,
      ...lists.map((l) => api(`${l}?$search=${encodeURIComponent(term)}&$top=200&$select=id`, { version: "beta" }))]);
    if (seq !== searchSeq) return;
    const found = pages.flatMap((p) => p.value).map((c) => state.contacts.get(c.id)).filter(Boolean);
    // The People API forgives a typo; its people are matched to contacts by e-mail address.
    const addresses = new Set(ppl.value.flatMap((p) => (p.scoredEmailAddresses || []).map((e) => (e.address || "").toLowerCase())));
    if (addresses.size) {
      for (const c of state.contacts.values()) {
        if (!found.includes(c) && (c.emailAddresses || []).some((e) => addresses.has((e.address || "").toLowerCase()))) found.push(c);
      }
    }
    found.forEach((c) => { c._key = sortName(c); c._own = false; });
    showSearch(found);
  } catch (e) { if (seq === searchSeq) toast(e.message); }
}

/** People API ranking: the people this user writes to most, matched to their contacts. */
export async function frequent() {
  const people = await api(`${state.mailbox}/people?$top=50`);
  const byMail = new Map();
  for (const c of state.contacts.values()) for (const e of c.emailAddresses || []) byMail.set((e.address || "").toLowerCase(), c);
  const found = [];
  for (const p of people.value) {
    const c = (p.scoredEmailAddresses || []).map((e) => byMail.get((e.address || "").toLowerCase())).find(Boolean);
    if (c && !found.includes(c)) { c._key = sortName(c); found.push(c); }
  }
  return found;
}

export function renderBulkbar() {
  const bar = $("#bulkbar");
  const ids = [...state.selected];
  bar.hidden = ids.length === 0;
  if (!ids.length) return;
  const ro = state.readOnly;
  const folders = [...state.folders.values()].map((f) => [f.id, f.displayName]);
  bar.replaceChildren(...[
    h("span", {}, `${ids.length} selected`),
    ro ? null : h("button", { onclick: async () => {
      const v = await ask("Move to folder", [{ name: "folder", label: "Folder", options: folders, value: targetFolder() }], "Move");
      if (v) await moveContacts(ids, v.folder).catch((e) => toast(e.message));
    } }, "Move…"),
    ro ? null : h("button", { onclick: async () => {
      const v = await ask("Add a category", [{ name: "cat", label: "Category", options: state.categories.map((c) => [c.displayName, c.displayName]) }], "Add");
      if (v) await bulkPatch(ids, (c) => ({ categories: [...new Set([...(c.categories || []), v.cat])] }));
    } }, "Categorize…"),
    ro ? null : h("button", { onclick: () => bulkPatch(ids, () => ({ flag: { flagStatus: "flagged" } }), "beta") }, "Flag"),
    h("button", { onclick: () => exportContacts(ids) }, "Export"),
    ro ? null : h("button.danger", { onclick: () => deleteContacts(ids) }, "Delete"),
    h("button", { onclick: () => { state.selected.clear(); changed(); } }, "Clear selection"),
  ].filter(Boolean));
}

async function bulkPatch(ids, body, version = "v1.0") {
  try {
    for (const id of ids) applyContact(await api(`${state.mailbox}/contacts/${id}`, { method: "PATCH", body: body(state.contacts.get(id)), version }));
    changed();
    toast(`Updated ${ids.length} contact${ids.length === 1 ? "" : "s"}.`);
  } catch (e) { toast(e.message); }
}

/** Imports a vCard or CSV file into the current folder, with the upload's progress shown. */
export function importFile(file) {
  const type = /\.csv$/i.test(file.name) || file.type === "text/csv" ? "text/csv" : "text/vcard";
  const progress = h("progress", { max: 100, value: 0, "aria-label": `Importing ${file.name}` });
  const note = h("div.toast", {}, h("span", {}, `Importing ${file.name}… `), progress);
  $("#toasts").append(note);
  return new Promise((resolve) => {
    import("./auth.js").then(async ({ accessToken }) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/v1.0${state.mailbox}/contactFolders/${targetFolder()}/import`);
      xhr.setRequestHeader("Authorization", `Bearer ${await accessToken()}`);
      xhr.setRequestHeader("Content-Type", type);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (e.loaded / e.total) * 90; };
      xhr.onloadend = () => {
        note.remove();
        let r = {};
        try { r = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) {
          const skipped = r.skipped?.length ? `, ${r.skipped.length} skipped (line ${r.skipped[0].line}: ${r.skipped[0].reason})` : "";
          toast(`Imported ${r.imported ?? 0} contact${r.imported === 1 ? "" : "s"}${r.merged ? `, merged ${r.merged}` : ""}${skipped}.`);
        } else toast(r.error?.message || `The import failed (${xhr.status}).`);
        resolve();
      };
      xhr.send(file);
    });
  });
}

/** Downloads the current folder (or all contacts) as vCard. */
export async function exportView() {
  const path = state.view.kind === "folder" ? `${state.mailbox}/contactFolders/${state.view.id}/contacts/$value` : `${state.mailbox}/contacts/$value`;
  const r = await api(path, { raw: true, headers: { Accept: "text/vcard" } });
  const a = h("a", { href: URL.createObjectURL(await r.blob()), download: "contacts.vcf" });
  a.click();
}

export const SHORTCUTS = [["/", "Search"], ["n", "New contact"], ["e", "Edit the open contact"], ["↑ ↓", "Move through the list"],
  ["Enter", "Open the contact"], ["Space", "Select the contact"], ["Delete", "Delete the open contact"], ["?", "This list"]];

export function showShortcuts() {
  const d = $("#dialog");
  d.replaceChildren(h("h2", { id: "dialog-title" }, "Keyboard shortcuts"),
    h("dl.shortcuts", {}, SHORTCUTS.flatMap(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)])),
    h("p.actions", {}, h("button.primary", { onclick: () => d.close() }, "Close")));
  d.showModal();
}

export { all };
