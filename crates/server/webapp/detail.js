// One contact: read it, edit every v1.0 property with If-Match (a stale edit shows a conflict,
// never overwrites), flag and favourite it (beta), its photo (pick or drop, cropped square),
// create and delete with undo.

import { h, $, toast, presetColour, initials } from "./dom.js";
import { api, ApiError } from "./api.js";
import { state, changed, applyContact, targetFolder } from "./store.js";
import { GROUPS, ADDRESS_PARTS, toForm, fromForm } from "./fields.js";

const READ_ONLY = ["id", "createdDateTime", "lastModifiedDateTime", "changeKey", "@odata.etag", "@odata.context", "parentFolderId"];
let photoUrl = null;
/** Counts what the pane was asked to show. A contact's read answers after the user may have
 * opened its form (a click on Edit while the read was in flight): only the latest ask draws. */
let shown = 0;

const base = () => state.mailbox;
const fmtDate = (iso) => new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" }).format(new Date(iso));

/** Shows a contact (fetched fresh, every v1.0 property and the beta flag). */
export async function showContact(id, focus = false) {
  const ask = ++shown;
  state.current = id;
  changed();
  const pane = $("#detail");
  try {
    const [c, beta] = await Promise.all([
      api(`${base()}/contacts/${id}`),
      api(`${base()}/contacts/${id}?$select=flag,isFavorite`, { version: "beta" }),
    ]);
    if (state.current !== id || ask !== shown) return;
    renderView(c, beta);
    if (focus) pane.focus();
  } catch (e) {
    if (e.status === 404) { applyContact({ id, "@removed": {} }); state.current = null; changed(); pane.replaceChildren(); }
    else toast(e.message);
  }
}

function field(label, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return null;
  return [h("dt", {}, label), h("dd", {}, value)];
}

function addressText(a) {
  return a && Object.values(a).some(Boolean) ? [a.street, [a.postalCode, a.city].filter(Boolean).join(" "), a.state, a.countryOrRegion].filter(Boolean).join(", ") : null;
}

async function loadPhoto(c, img) {
  try {
    const r = await api(`${base()}/contacts/${c.id}/photo/$value`, { raw: true });
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = URL.createObjectURL(await r.blob());
    img.src = photoUrl;
    img.hidden = false;
    img.nextSibling.hidden = true;
  } catch { /* no photo */ }
}

function renderView(c, beta) {
  const pane = $("#detail");
  const ro = state.readOnly;
  const name = c.displayName || "(no name)";
  const img = h("img.photo", { alt: `Photo of ${name}`, hidden: true, width: 96, height: 96 });
  loadPhoto(c, img);
  const flagged = beta.flag?.flagStatus === "flagged";
  const dl = h("dl", {});
  for (const [, props] of GROUPS) {
    for (const [key, label, kind] of props) {
      if (["givenName", "surname", "displayName"].includes(key)) continue;
      let v = c[key];
      if (kind === "emails") v = (v || []).map((e) => e.address).join(", ");
      else if (kind === "list") v = (v || []).join(", ");
      else if (kind === "address") v = addressText(v);
      else if (kind === "date" && v) v = fmtDate(v);
      else if (kind === "url" && v) v = h("a", { href: v, rel: "noopener noreferrer", target: "_blank" }, v);
      const f = field(label, v);
      if (f) dl.append(...f);
    }
  }
  const labels = (c.categories || []).map((n) => {
    const cat = state.categories.find((x) => x.displayName === n);
    const s = h("span.label", {}, n);
    s.style.setProperty("--c", presetColour(cat?.color));
    return s;
  });
  pane.replaceChildren(
    h("div.card", {},
      h("div.head", {}, img, h("span.avatar.big", { "aria-hidden": "true" }, initials(name)),
        h("div", {}, h("h2", { id: "detail-name" }, name),
          h("p.sub", {}, [c.jobTitle, c.companyName].filter(Boolean).join(", ")),
          h("p.labels", {}, labels))),
      h("div.actions", { role: "toolbar", "aria-label": "Contact actions" },
        ro ? null : h("button.primary", { onclick: () => renderEdit(c) }, "Edit"),
        ro ? null : h("button", { onclick: () => setBeta(c.id, { flag: { flagStatus: flagged ? "notFlagged" : "flagged" } }) }, flagged ? "Clear flag" : "Flag"),
        ro ? null : h("button", { onclick: () => setBeta(c.id, { isFavorite: !beta.isFavorite }) }, beta.isFavorite ? "Unfavourite" : "Favourite"),
        ro ? null : photoPicker(c),
        h("button", { onclick: () => exportContacts([c.id]) }, "Export"),
        ro ? null : h("button.danger", { onclick: () => deleteContacts([c.id]) }, "Delete")),
      flagged && beta.flag.dueDateTime ? h("p", {}, `Follow up by ${fmtDate(beta.flag.dueDateTime.dateTime + "Z")}`) : null,
      dl,
      h("p.meta", {}, `Changed ${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(new Date(c.lastModifiedDateTime))}`)));
}

async function setBeta(id, body) {
  try {
    const c = await api(`${base()}/contacts/${id}`, { version: "beta", method: "PATCH", body });
    applyContact(c);
    changed();
    await showContact(id);
  } catch (e) { toast(e.message); }
}

function photoPicker(c) {
  const input = h("input.sr", { type: "file", accept: "image/*", id: "photo-file", onchange: () => input.files[0] && uploadPhoto(c, input.files[0]) });
  const label = h("label.button", { for: "photo-file" }, "Photo…");
  const pane = $("#detail");
  pane.ondragover = (e) => { if (e.dataTransfer.types.includes("Files")) e.preventDefault(); };
  pane.ondrop = (e) => {
    const f = e.dataTransfer.files[0];
    if (f?.type.startsWith("image/")) { e.preventDefault(); uploadPhoto(c, f); }
  };
  return h("span", {}, input, label);
}

/** Crops the picture to its centred square (at most 648 px, Rolo's largest size) and uploads it. */
async function uploadPhoto(c, file) {
  try {
    const bmp = await createImageBitmap(file);
    const side = Math.min(bmp.width, bmp.height);
    const out = Math.min(side, 648);
    const canvas = h("canvas", { width: out, height: out });
    canvas.getContext("2d").drawImage(bmp, (bmp.width - side) / 2, (bmp.height - side) / 2, side, side, 0, 0, out, out);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.9));
    if (!(await previewPhoto(blob, out))) return;
    await api(`${base()}/contacts/${c.id}/photo/$value`, { method: "PUT", body: blob, headers: { "Content-Type": "image/jpeg" } });
    toast("Photo updated.");
    await showContact(c.id);
  } catch (e) { toast(`The photo was not saved: ${e.message}`); }
}

/** Shows the square crop at Rolo's list and card sizes (48 and 240 px) before it is uploaded. */
function previewPhoto(blob, side) {
  const d = $("#dialog");
  const url = URL.createObjectURL(blob);
  const at = (px) => h("img.preview", { src: url, width: px, height: px, alt: `The photo at ${px} by ${px} pixels` });
  d.replaceChildren(h("form", { method: "dialog" }, h("h2", { id: "dialog-title" }, "New photo"),
    h("p", {}, `Cropped to a ${side} × ${side} square from the centre.`),
    h("p.previews", {}, at(240), at(96), at(48)),
    h("p.actions", {}, h("button", { value: "" }, "Cancel"), h("button.primary", { value: "ok" }, "Use this photo"))));
  return new Promise((resolve) => {
    d.addEventListener("close", () => { URL.revokeObjectURL(url); resolve(d.returnValue === "ok"); }, { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

/** The editor; `c` is null for a new contact. */
export function renderEdit(c) {
  shown++;
  const pane = $("#detail");
  const isNew = !c;
  c ||= {};
  const form = h("form.edit", { novalidate: true, "aria-labelledby": "edit-title" });
  const error = h("p.error", { role: "alert" });
  form.append(h("h2", { id: "edit-title" }, isNew ? "New contact" : `Edit ${c.displayName || ""}`), error);
  for (const [group, props] of GROUPS) {
    const fs = h("fieldset", {}, h("legend", {}, group));
    for (const [key, label, kind] of props) {
      const id = `f-${key}`;
      if (kind === "address") {
        const sub = h("fieldset.address", {}, h("legend", {}, label));
        const v = toForm(kind, c[key]);
        for (const [part, plabel] of ADDRESS_PARTS) {
          sub.append(h("p", {}, h("label", { for: `${id}-${part}` }, plabel), h("input", { id: `${id}-${part}`, name: `${key}.${part}`, value: v[part] || "" })));
        }
        fs.append(sub);
        continue;
      }
      const multi = ["list", "emails", "textarea"].includes(kind);
      const input = multi
        ? h("textarea", { id, name: key, rows: kind === "textarea" ? 4 : 2 })
        : h("input", { id, name: key, type: { date: "date", tel: "tel", url: "url" }[kind] || "text" });
      input.value = toForm(kind, c[key]);
      const hint = kind === "list" || kind === "emails" ? h("span.hint", { id: `${id}-hint` }, "One per line") : null;
      if (hint) input.setAttribute("aria-describedby", hint.id);
      fs.append(h("p", {}, h("label", { for: id }, label), input, hint));
    }
    form.append(fs);
  }
  const cats = h("fieldset", {}, h("legend", {}, "Categories"),
    state.categories.map((cat) => {
      const box = h("input", { type: "checkbox", name: "categories", value: cat.displayName, checked: (c.categories || []).includes(cat.displayName) });
      const dot = h("span.dot", { "aria-hidden": "true" });
      dot.style.background = presetColour(cat.color);
      return h("label.check", {}, box, dot, cat.displayName);
    }));
  form.append(cats, h("p.actions", {},
    h("button", { type: "button", onclick: () => (isNew ? pane.replaceChildren() : showContact(c.id)) }, "Cancel"),
    h("button.primary", { type: "submit" }, "Save")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = collect(form, c);
    try {
      const saved = isNew
        ? await api(`${base()}/contactFolders/${targetFolder()}/contacts`, { method: "POST", body })
        : await api(`${base()}/contacts/${c.id}`, { method: "PATCH", body, headers: { "If-Match": c["@odata.etag"] } });
      applyContact(saved);
      changed();
      toast(isNew ? `Created ${saved.displayName || "the contact"}.` : "Saved.");
      await showContact(saved.id);
    } catch (err) {
      if (err.status === 412) conflict(form, c, body);
      else error.textContent = err.message;
    }
  });
  pane.replaceChildren(form);
  form.querySelector("input").focus();
}

/** The properties the form changed (all of them, for a new contact). */
function collect(form, c) {
  const data = new FormData(form);
  const body = {};
  for (const [, props] of GROUPS) {
    for (const [key, , kind] of props) {
      let v;
      if (kind === "address") {
        v = Object.fromEntries(ADDRESS_PARTS.map(([p]) => [p, data.get(`${key}.${p}`) || null]));
        if (!Object.values(v).some(Boolean) && !c[key]) continue;
        if (JSON.stringify(v) === JSON.stringify(Object.fromEntries(ADDRESS_PARTS.map(([p]) => [p, c[key]?.[p] || null])))) continue;
      } else {
        const text = data.get(key) ?? "";
        if (text === toForm(kind, c[key])) continue;
        v = fromForm(kind, text);
      }
      body[key] = v;
    }
  }
  const cats = data.getAll("categories");
  if (JSON.stringify(cats) !== JSON.stringify(c.categories || [])) body.categories = cats;
  return body;
}

/** A stale edit: someone changed the contact since it was opened. Nothing is overwritten
 * unless the person chooses to. */
function conflict(form, c, body) {
  form.querySelector(".conflict")?.remove();
  const box = h("div.conflict", { role: "alert" },
    h("p", {}, h("strong", {}, "This contact was changed elsewhere since you opened it. "),
      "Your edits were not saved."),
    h("p.actions", {},
      h("button", { type: "button", onclick: () => showContact(c.id) }, "Discard mine and show theirs"),
      h("button.primary", { type: "button", onclick: async () => {
        try {
          const fresh = await api(`${base()}/contacts/${c.id}`);
          const saved = await api(`${base()}/contacts/${c.id}`, { method: "PATCH", body, headers: { "If-Match": fresh["@odata.etag"] } });
          applyContact(saved);
          await showContact(saved.id);
        } catch (e) { toast(e.message); }
      } }, "Save mine over theirs")));
  form.prepend(box);
  box.querySelector("button").focus();
}

/** Deletes contacts; Undo re-creates them (every v1.0 property, in the same folder). */
export async function deleteContacts(ids) {
  const kept = [];
  for (const id of ids) {
    try {
      const full = await api(`${base()}/contacts/${id}`);
      await api(`${base()}/contacts/${id}`, { method: "DELETE" });
      kept.push(full);
      applyContact({ id, "@removed": {} });
    } catch (e) { if (!(e instanceof ApiError && e.status === 404)) toast(e.message); }
  }
  if (ids.includes(state.current)) { state.current = null; $("#detail").replaceChildren(); }
  changed();
  const what = kept.length === 1 ? kept[0].displayName || "1 contact" : `${kept.length} contacts`;
  toast(`Deleted ${what}.`, async () => {
    for (const full of kept) {
      const body = Object.fromEntries(Object.entries(full).filter(([k]) => !READ_ONLY.includes(k)));
      const again = await api(`${base()}/contactFolders/${full.parentFolderId}/contacts`, { method: "POST", body });
      applyContact(again);
    }
    changed();
    toast(`Restored ${what}.`);
  });
}

/** Downloads contacts as one vCard file. */
export async function exportContacts(ids) {
  const parts = [];
  for (const id of ids) parts.push(await api(`${base()}/contacts/${id}/$value`, { headers: { Accept: "text/vcard" } }));
  const a = h("a", { href: URL.createObjectURL(new Blob(parts, { type: "text/vcard" })), download: "contacts.vcf" });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
