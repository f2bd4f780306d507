// A few DOM helpers in place of a framework: element building, toasts with an action, and a
// modal form dialog.

/** `h("button.primary", {onclick}, "Save")`: tag with optional classes, attributes, children. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const $ = (sel) => document.querySelector(sel);

/** A message at the bottom; with `action` a button (Undo) that runs it. */
export function toast(text, action, label = "Undo") {
  const box = $("#toasts");
  const t = h("div.toast", {}, h("span", {}, text));
  if (action) t.append(h("button", { onclick: () => { t.remove(); action(); } }, label));
  t.append(h("button.close", { "aria-label": "Dismiss", onclick: () => t.remove() }, "×"));
  box.append(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), action ? 10_000 : 5_000);
}

/** A modal dialog with `fields` ([{name, label, value, type, options}]); resolves to the values,
 * or null when cancelled. */
export function ask(title, fields, submit = "OK") {
  const d = $("#dialog");
  d.replaceChildren();
  const form = h("form", { method: "dialog" }, h("h2", { id: "dialog-title" }, title));
  for (const f of fields) {
    const id = `ask-${f.name}`;
    const input = f.options
      ? h("select", { id, name: f.name }, f.options.map(([v, l]) => h("option", { value: v, selected: v === f.value }, l)))
      : h("input", { id, name: f.name, type: f.type || "text", value: f.value ?? "", required: f.required });
    form.append(h("p", {}, h("label", { for: id }, f.label), input));
  }
  const cancel = h("button", { type: "button", onclick: () => d.close("") }, "Cancel");
  form.append(h("p.actions", {}, cancel, h("button.primary", { value: "ok" }, submit)));
  d.append(form);
  return new Promise((resolve) => {
    d.addEventListener("close", () => {
      resolve(d.returnValue === "ok" ? Object.fromEntries(new FormData(form)) : null);
    }, { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

export const confirmAsk = (title, submit) => ask(title, [], submit).then((v) => v !== null);

/** Outlook's category presets (preset0 red ... preset24 dark cranberry) as CSS colours. */
const PRESETS = ["#e74856", "#ff8c00", "#fab005", "#8a6d3b", "#10893e", "#00b294", "#5c7a00", "#0063b1",
  "#8764b8", "#c239b3", "#7a7574", "#4c4a48", "#a0a0a0", "#5d5a58", "#000000", "#a4262c", "#ca5010",
  "#986f0b", "#603d30", "#0b6a0b", "#038387", "#486860", "#004e8c", "#5c2e91", "#881798"];
export const presetColour = (p) => PRESETS[Number(String(p).replace("preset", ""))] ?? "#767676";

export const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

/** Initials for an avatar. */
export const initials = (name) => (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
