// The contact list: virtual scrolling (only the rows in view exist in the DOM, so 50,000 contacts
// scroll as 50 do), an alphabet jump, keyboard moves, multi-select and dragging rows to folders.

import { h, $, initials, presetColour } from "./dom.js";
import { state, visibleContacts, changed } from "./store.js";

const ROW = 52;
const OVERSCAN = 8;
let rows = [];
let searchRows = null;
let onOpen = () => {};
let spacer;

export function initList(open) {
  onOpen = open;
  const list = $("#list");
  spacer = h("div.spacer", { "aria-hidden": "true" });
  list.append(spacer);
  list.addEventListener("scroll", () => requestAnimationFrame(draw), { passive: true });
  new ResizeObserver(() => draw()).observe(list);
  list.addEventListener("keydown", (e) => {
    const i = rows.findIndex((c) => c.id === state.current);
    const move = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[e.key];
    if (move) {
      e.preventDefault();
      const n = Math.max(0, Math.min(rows.length - 1, i + move));
      if (rows[n]) { onOpen(rows[n].id, false); scrollToIndex(n); }
    } else if (e.key === "Enter" && rows[i]) onOpen(rows[i].id, true);
    else if (e.key === " " && rows[i]) { e.preventDefault(); toggle(rows[i].id); }
  });
  const alpha = $("#alphabet");
  for (const l of "#ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
    alpha.append(h("button", { "aria-label": `Jump to ${l === "#" ? "numbers and symbols" : l}`, onclick: () => jump(l) }, l));
  }
}

/** Shows search results instead of the view's contacts (null goes back). */
export function showSearch(list) {
  searchRows = list;
  render();
}

function jump(letter) {
  const i = rows.findIndex((c) => {
    const f = (c._key || "").normalize("NFD")[0]?.toUpperCase() || "";
    return letter === "#" ? !/[A-Z]/.test(f) : f >= letter;
  });
  if (i >= 0) scrollToIndex(i, true);
}

function scrollToIndex(i, top = false) {
  const list = $("#list");
  const y = i * ROW;
  if (top || y < list.scrollTop) list.scrollTop = y;
  else if (y + ROW > list.scrollTop + list.clientHeight) list.scrollTop = y + ROW - list.clientHeight;
  draw();
}

function toggle(id) {
  if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
  changed();
}

/** Recomputes the rows of the view and redraws. */
export function render() {
  rows = searchRows ?? visibleContacts();
  $("#count").textContent = state.loaded || searchRows
    ? new Intl.NumberFormat().format(rows.length) + (rows.length === 1 ? " contact" : " contacts") : "Loading…";
  spacer.style.height = `${rows.length * ROW}px`;
  draw();
}

function draw() {
  const list = $("#list");
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + OVERSCAN);
  const keep = new Map();
  for (const el of list.querySelectorAll(".row")) keep.set(el.dataset.id, el);
  const seen = new Set();
  for (let i = first; i < last; i++) {
    const c = rows[i];
    const sig = JSON.stringify([c._key, c.displayName, c.categories, c.flag?.flagStatus, c.isFavorite, c._own,
      state.current === c.id, state.selected.has(c.id), c.emailAddresses?.[0]?.address, c.companyName]);
    let el = keep.get(c.id);
    if (!el || el.dataset.sig !== sig) {
      const fresh = row(c, i);
      fresh.dataset.sig = sig;
      if (el) el.replaceWith(fresh); else list.append(fresh);
      el = fresh;
    }
    el.style.transform = `translateY(${i * ROW}px)`;
    el.setAttribute("aria-posinset", i + 1);
    el.setAttribute("aria-setsize", rows.length);
    seen.add(c.id);
  }
  for (const [id, el] of keep) if (!seen.has(id)) el.remove();
  const cur = rows.findIndex((c) => c.id === state.current);
  if (cur >= 0) list.setAttribute("aria-activedescendant", `row-${state.current}`);
  else list.removeAttribute("aria-activedescendant");
}

function row(c, i) {
  const name = c.displayName || c._key || "(no name)";
  const secondary = c.emailAddresses?.[0]?.address || c.companyName || "";
  const labels = (c.categories || []).map((n) => {
    const cat = state.categories.find((x) => x.displayName === n);
    const dot = h("span.label", { title: n }, n);
    dot.style.setProperty("--c", presetColour(cat?.color));
    return dot;
  });
  const el = h("div.row", {
    id: `row-${c.id}`, role: "option", dataset: { id: c.id }, draggable: !state.readOnly,
    "aria-selected": String(state.selected.has(c.id)),
    class: `row${state.current === c.id ? " current" : ""}${state.selected.has(c.id) ? " checked" : ""}`,
    onclick: (e) => { if (e.target.closest(".check")) toggle(c.id); else onOpen(c.id, true); },
    ondragstart: (e) => {
      const ids = state.selected.has(c.id) ? [...state.selected] : [c.id];
      e.dataTransfer.setData("application/x-rolo-contacts", JSON.stringify(ids));
      e.dataTransfer.effectAllowed = "move";
    },
  },
  h("span.check", { "aria-hidden": "true", title: "Select" }, state.selected.has(c.id) ? "☑" : "☐"),
  h("span.avatar", { "aria-hidden": "true" }, initials(name)),
  h("span.names", {}, h("span.name", {}, name, c._own ? h("span.me", {}, " (me)") : null), h("span.sub", {}, secondary)),
  h("span.labels", {}, labels),
  c.isFavorite ? h("span.star", { title: "Favourite" }, h("span", { "aria-hidden": "true" }, "★"), h("span.sr", {}, "favourite")) : null,
  c.flag?.flagStatus === "flagged" ? h("span.flag", { title: "Flagged" }, h("span", { "aria-hidden": "true" }, "⚑"), h("span.sr", {}, "flagged")) : null);
  return el;
}
