// "Merge and fix": likely duplicates and their merge. A pair is proposed on the same e-mail
// address or phone number, or on close names together with a second signal (same company,
// e-mail domain or phone ending); a shared name alone never proposes anything, so two different
// people called John Smith stay apart. Nothing merges until the person says so; a merge keeps
// every value (Rolo's POST .../contacts/{id}/merge), the person picks where two differ, and Undo
// puts the contacts back.

import { h, $, toast, collator } from "./dom.js";
import { api } from "./api.js";
import { state, changed, applyContact } from "./store.js";
import { showSearch } from "./list.js";

const READ_ONLY = ["id", "createdDateTime", "lastModifiedDateTime", "changeKey", "@odata.etag", "@odata.context", "parentFolderId"];
const SINGLE = ["givenName", "middleName", "surname", "title", "generation", "nickName", "displayName", "jobTitle",
  "companyName", "department", "officeLocation", "profession", "manager", "assistantName", "spouseName", "birthday",
  "mobilePhone", "businessHomePage", "fileAs", "initials"];
const dismissedKey = "rolo.notDuplicates";

const fold = (s) => (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9 ]/g, "").trim();
const digits = (s) => (s || "").replace(/\D/g, "");
const emails = (c) => (c.emailAddresses || []).map((e) => (e.address || "").toLowerCase()).filter(Boolean);
const phones = (c) => (c.phones || []).map((p) => digits(p.number)).filter((d) => d.length >= 7);

/** Edit distance of at most one (one letter added, dropped or changed). */
function close(a, b) {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(i + 1) === b.slice(i + 1) || a.slice(i) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i);
}

function fullName(c) {
  return fold([c.givenName, c.surname].filter(Boolean).join(" ") || c.displayName);
}

/** Why two contacts look like one person, or null. */
export function why(a, b) {
  const shared = emails(a).find((e) => emails(b).includes(e));
  if (shared) return `same e-mail ${shared}`;
  const phone = phones(a).find((p) => phones(b).some((q) => q.slice(-9) === p.slice(-9)));
  if (phone) return "same phone number";
  const [na, nb] = [fullName(a), fullName(b)];
  if (!na || !nb || !close(na, nb)) return null;
  const domain = (c) => emails(c).map((e) => e.split("@")[1]);
  const second = (fold(a.companyName) && fold(a.companyName) === fold(b.companyName) && "same company")
    || (domain(a).find((d) => domain(b).includes(d)) && "same e-mail domain")
    || (phones(a).some((p) => phones(b).some((q) => p.slice(-4) === q.slice(-4))) && "same phone ending");
  return second ? `close names and ${second}` : null;
}

/** Likely duplicate pairs, cheapest checks first (bucketed by e-mail, phone and name prefix). */
export function findDuplicates() {
  const dismissed = new Set(JSON.parse(localStorage.getItem(dismissedKey) || "[]"));
  const buckets = new Map();
  const add = (k, c) => { if (!buckets.has(k)) buckets.set(k, []); buckets.get(k).push(c); };
  for (const c of state.contacts.values()) {
    emails(c).forEach((e) => add(`e:${e}`, c));
    phones(c).forEach((p) => add(`p:${p.slice(-9)}`, c));
    const n = fullName(c);
    if (n) add(`n:${n.slice(0, 3)}`, c);
  }
  const pairs = new Map();
  for (const list of buckets.values()) {
    if (list.length < 2 || list.length > 200) continue;
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, b] = [list[i], list[j]].sort((x, y) => (x.id < y.id ? -1 : 1));
        const key = `${a.id}|${b.id}`;
        if (a.id === b.id || pairs.has(key) || dismissed.has(key)) continue;
        const reason = why(a, b);
        if (reason) pairs.set(key, { a, b, reason });
      }
    }
  }
  return [...pairs.values()].sort((x, y) => collator.compare(fullName(x.a), fullName(y.a)));
}

function show(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? x.address || JSON.stringify(x) : x)).join(", ");
  if (typeof v === "object") return Object.values(v).filter(Boolean).join(", ");
  return String(v);
}

/** The "Merge and fix" pane. */
export function renderDuplicates() {
  const pane = $("#detail");
  const pairs = findDuplicates();
  pane.replaceChildren(h("h2", {}, "Merge and fix"),
    h("p", {}, pairs.length ? `${pairs.length} possible duplicate${pairs.length === 1 ? "" : "s"}. Nothing is merged until you choose.` : "No likely duplicates."),
    h("ul.dupes", {}, pairs.map((p) => h("li", {},
      h("span", {}, `${p.a.displayName || "(no name)"} and ${p.b.displayName || "(no name)"}`), h("span.sub", {}, ` — ${p.reason}`),
      h("span.actions", {},
        h("button", { onclick: () => review(p) }, "Review"),
        h("button", { onclick: () => {
          const d = JSON.parse(localStorage.getItem(dismissedKey) || "[]");
          localStorage.setItem(dismissedKey, JSON.stringify([...d, `${p.a.id}|${p.b.id}`]));
          renderDuplicates();
        } }, "Not the same person"))))));
  const involved = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  involved.forEach((c) => { c._key = c.displayName || ""; });
  return involved;
}

/** Side by side: every property where the two differ, the person choosing a value for each. */
async function review(p) {
  const pane = $("#detail");
  const [a, b] = await Promise.all([api(`${state.mailbox}/contacts/${p.a.id}`), api(`${state.mailbox}/contacts/${p.b.id}`)]);
  const rows = [];
  for (const key of SINGLE) {
    const [va, vb] = [a[key], b[key]];
    if (va && vb && JSON.stringify(va) !== JSON.stringify(vb)) {
      rows.push(h("fieldset.choice", {}, h("legend", {}, key),
        h("label.check", {}, h("input", { type: "radio", name: key, value: "a", checked: true }), show(va)),
        h("label.check", {}, h("input", { type: "radio", name: key, value: "b" }), show(vb))));
    }
  }
  const form = h("form", { "aria-labelledby": "merge-title" },
    h("h2", { id: "merge-title" }, `Merge ${a.displayName || ""} and ${b.displayName || ""}`),
    h("p", {}, "Every e-mail address, phone, address, category and note of both is kept. ",
      rows.length ? "Choose the values to keep where they differ:" : "They have no conflicting values."),
    rows,
    h("p.actions", {}, h("button", { type: "button", onclick: renderDuplicates }, "Back"), h("button.primary", { type: "submit" }, "Merge")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const values = {};
    for (const key of SINGLE) if (data.get(key) === "b") values[key] = b[key];
    try {
      const merged = await api(`${state.mailbox}/contacts/${a.id}/merge`, { method: "POST", body: { contacts: [b.id], values } });
      applyContact(merged);
      applyContact({ id: b.id, "@removed": {} });
      changed();
      showSearch(renderDuplicates());
      toast(`Merged into ${merged.displayName || "one contact"}.`, () => undo(a, b, merged));
    } catch (err) { toast(err.message); }
  });
  pane.replaceChildren(form);
  form.querySelector("input, button")?.focus();
}

/** Puts both contacts back: the kept one's properties as they were, the other re-created. */
async function undo(a, b, merged) {
  const restore = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(merged)])) {
    if (READ_ONLY.includes(key) || key.startsWith("@")) continue;
    restore[key] = a[key] ?? (Array.isArray(merged[key]) ? [] : null);
  }
  try {
    applyContact(await api(`${state.mailbox}/contacts/${a.id}`, { method: "PATCH", body: restore }));
    const body = Object.fromEntries(Object.entries(b).filter(([k]) => !READ_ONLY.includes(k) && !k.startsWith("@")));
    applyContact(await api(`${state.mailbox}/contactFolders/${b.parentFolderId}/contacts`, { method: "POST", body }));
    changed();
    toast("The merge was undone.");
  } catch (e) { toast(e.message); }
}
