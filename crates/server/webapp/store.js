// What the app knows: the signed-in user, the open mailbox's folders, contacts (list fields only)
// and master categories, kept current by delta rounds every few seconds.

import { api, all } from "./api.js";
import { collator } from "./dom.js";

const LIST_FIELDS = "displayName,givenName,surname,companyName,emailAddresses,phones,categories,flag,isFavorite,parentFolderId";
const POLL_MS = 3000;

export const state = {
  me: null,
  /** The open mailbox: "/me", or "/users/{upn}" for a delegated or shared one. */
  mailbox: "/me",
  mailboxName: "",
  readOnly: false,
  /** Shared folder by folder: only these folders can be read (no folder list, no mailbox delta). */
  folderOnly: false,
  /** What others opened to this user (/me/sharedWithMe): mailboxes, with their shared folders. */
  shared: [],
  folders: new Map(),
  defaultFolder: null,
  contacts: new Map(),
  categories: [],
  view: { kind: "all" },
  sort: localStorage.getItem("rolo.sort") || "first",
  selected: new Set(),
  current: null,
  /** Contacts recently written here: a delta echo of our own write must not look foreign. */
  loaded: false,
};

const listeners = new Set();
export const subscribe = (fn) => listeners.add(fn);
let queued = false;
/** Re-renders on the next frame, once however many changes arrived. */
export function changed() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => { queued = false; listeners.forEach((fn) => fn()); });
}

let deltaLink = null;
let folderDeltaLink = null;
/** Folder-only mailboxes: each shared folder's deltaLink. */
let folderDeltas = new Map();
let timer = null;

/** Opens a mailbox: loads its folders, categories and every contact, then polls for changes.
 * `shared` (the folders of a mailbox shared folder by folder, from /me/sharedWithMe) limits it
 * to those folders, each followed by its own delta. */
export async function openMailbox(mailbox, name, readOnly, onProgress, shared = null) {
  clearTimeout(timer);
  Object.assign(state, { mailbox, mailboxName: name, readOnly, loaded: false, current: null, folderOnly: !!shared });
  state.contacts = new Map();
  state.folders = new Map();
  state.selected.clear();
  state.view = { kind: "all" };
  folderDeltas = new Map();
  changed();
  if (shared) {
    state.defaultFolder = null;
    folderDeltaLink = null;
    for (const f of shared) state.folders.set(f.id, { ...f, parentFolderId: null });
    state.categories = [];
    await Promise.all(shared.map((f) => loadContacts(onProgress, f.id)));
  } else {
    const def = await api(`${mailbox}/contactFolders/contacts`);
    state.defaultFolder = def.id;
    state.folders.set(def.id, { ...def, parentFolderId: null });
    await Promise.all([loadFolders(), loadCategories(), loadContacts(onProgress)]);
  }
  state.loaded = true;
  changed();
  timer = setTimeout(poll, POLL_MS);
}

async function loadFolders() {
  folderDeltaLink = null;
  let next = `${state.mailbox}/contactFolders/delta`;
  while (next) {
    const page = await api(next);
    for (const f of page.value) applyFolder(f);
    next = page["@odata.nextLink"];
    folderDeltaLink = page["@odata.deltaLink"] || folderDeltaLink;
  }
}

function applyFolder(f) {
  if (f["@removed"]) state.folders.delete(f.id);
  else state.folders.set(f.id, { ...state.folders.get(f.id), ...f });
}

export async function loadShared() {
  try {
    state.shared = (await api("/me/sharedWithMe")).value.sort((a, b) => collator.compare(a.displayName, b.displayName));
  } catch {
    state.shared = [];
  }
  changed();
}

export async function loadCategories() {
  try {
    state.categories = (await all(`${state.mailbox}/outlook/masterCategories`)).sort((a, b) => collator.compare(a.displayName, b.displayName));
  } catch {
    state.categories = [];
  }
  changed();
}

/** The whole mailbox's contacts through one delta, or (`folder`) one shared folder's. */
async function loadContacts(onProgress, folder = null) {
  deltaLink = null;
  let next = folder
    ? `${state.mailbox}/contactFolders/${folder}/contacts/delta?$select=${LIST_FIELDS}`
    : `${state.mailbox}/contacts/delta?scope=mailbox&$select=${LIST_FIELDS}`;
  while (next) {
    const page = await api(next, { version: "beta", headers: { Prefer: "odata.maxpagesize=1000" } });
    // A folder's delta leaves out parentFolderId when it is not selected as such: it is known.
    page.value.forEach((c) => merge(folder && !c["@removed"] ? { ...c, parentFolderId: folder } : c));
    onProgress?.(state.contacts.size);
    next = page["@odata.nextLink"];
    const done = page["@odata.deltaLink"];
    if (done && folder) folderDeltas.set(folder, done);
    else if (done) deltaLink = done;
  }
}

/** Counts this tab's writes; `lastWrite` holds each contact's last one. A delta page asked for
 * before a write here may carry the contact as it was before it, and must not undo it. */
let writes = 0;
const lastWrite = new Map();

/** A contact as this tab wrote (or read) it. */
export function applyContact(c) {
  lastWrite.set(c.id, ++writes);
  merge(c);
}

function merge(c) {
  if (c["@removed"]) {
    state.contacts.delete(c.id);
    state.selected.delete(c.id);
  } else {
    state.contacts.set(c.id, { ...state.contacts.get(c.id), ...c });
  }
  state.order = null;
}

/** One delta round for contacts and folders; the next one starts a few seconds after. */
export async function poll() {
  clearTimeout(timer);
  const mailbox = state.mailbox;
  try {
    const links = state.folderOnly ? [...folderDeltas] : deltaLink ? [[null, deltaLink]] : [];
    if (document.visibilityState !== "hidden" && links.length) {
      let any = false;
      const started = writes;
      const reread = new Set();
      for (const [folder, link] of links) {
        let next = link;
        while (next) {
          const page = await api(next, { headers: { Prefer: "odata.maxpagesize=1000" } });
          if (mailbox !== state.mailbox) return;
          for (const c of page.value) {
            if ((lastWrite.get(c.id) ?? 0) > started) reread.add(c.id);
            else merge(folder && !c["@removed"] ? { ...c, parentFolderId: folder } : c);
          }
          any ||= page.value.length > 0;
          next = page["@odata.nextLink"];
          const done = page["@odata.deltaLink"];
          if (done && folder) folderDeltas.set(folder, done);
          else if (done) deltaLink = done;
        }
      }
      // Written here while the round ran: read as they are now rather than trust the page.
      for (const id of reread) {
        const asked = writes;
        const c = await api(`${mailbox}/contacts/${id}?$select=${LIST_FIELDS}`, { version: "beta" }).catch((e) => (e.status === 404 ? { id, "@removed": {} } : null));
        if (c && mailbox === state.mailbox && (lastWrite.get(id) ?? 0) <= asked) merge(c);
      }
      if (folderDeltaLink) {
        const page = await api(folderDeltaLink);
        page.value.forEach(applyFolder);
        any ||= page.value.length > 0;
        if (page["@odata.deltaLink"]) folderDeltaLink = page["@odata.deltaLink"];
      }
      if (any) changed();
    }
  } catch (e) {
    if (e.status === 410) {
      const shared = state.folderOnly ? [...state.folders.values()] : null;
      await openMailbox(state.mailbox, state.mailboxName, state.readOnly, undefined, shared);
    }
  } finally {
    if (mailbox === state.mailbox) timer = setTimeout(poll, POLL_MS);
  }
}

/** The sort key of a contact under the chosen order. */
export function sortName(c) {
  const first = [c.givenName, c.surname].filter(Boolean).join(" ");
  const last = [c.surname, c.givenName].filter(Boolean).join(", ");
  return (state.sort === "last" ? last : first) || c.displayName || c.companyName || c.emailAddresses?.[0]?.address || "";
}

/** The user's own card: a contact with the signed-in user's address. */
function isOwnCard(c) {
  const mine = (state.me?.mail || state.me?.userPrincipalName || "").toLowerCase();
  return state.mailbox === "/me" && !!mine && (c.emailAddresses || []).some((e) => (e.address || "").toLowerCase() === mine);
}

/** The contacts of the current view, in order: own card, favourites, then by name. */
export function visibleContacts() {
  const v = state.view;
  const keep = {
    all: () => true,
    folder: (c) => c.parentFolderId === v.id,
    favorites: (c) => c.isFavorite,
    flagged: (c) => c.flag?.flagStatus === "flagged",
    category: (c) => (c.categories || []).includes(v.id),
  }[v.kind] || (() => true);
  const rows = [];
  for (const c of state.contacts.values()) if (keep(c)) rows.push({ c, key: sortName(c), rank: isOwnCard(c) ? 0 : c.isFavorite ? 1 : 2 });
  rows.sort((a, b) => a.rank - b.rank || collator.compare(a.key, b.key));
  return rows.map((r) => Object.assign(r.c, { _own: r.rank === 0, _key: r.key }));
}

/** Which folder new contacts go to in the current view. */
export const targetFolder = () => (state.view.kind === "folder" ? state.view.id
  : state.defaultFolder ?? [...state.folders.values()].find((f) => f.role === "write")?.id);
