// The one door to Rolo's Graph API: bearer token, JSON, Graph's error envelope, paging.

import { accessToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** `path` is relative to the version root (`/me/contacts`) or an absolute nextLink/deltaLink. */
export async function api(path, { method = "GET", body, headers = {}, version = "v1.0", raw = false } = {}) {
  const url = path.startsWith("http") ? path : `/${version}${path}`;
  const send = async (force) => {
    const h = { Authorization: `Bearer ${await accessToken(force)}`, ...headers };
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && typeof body !== "string") {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(url, { method, headers: h, body: payload });
  };
  let r = await send(false);
  if (r.status === 401) r = await send(true);
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    throw new ApiError(r.status, e.error?.code || "", e.error?.message || `${method} failed (${r.status})`);
  }
  if (raw) return r;
  if (r.status === 204) return null;
  const type = r.headers.get("Content-Type") || "";
  return type.includes("json") ? r.json() : r.text();
}

/** Every item of a collection, following `@odata.nextLink`; `onPage` sees the progress. */
export async function all(path, opts = {}, onPage) {
  const out = [];
  let next = path;
  while (next) {
    const page = await api(next, { headers: { Prefer: "odata.maxpagesize=1000" }, ...opts });
    out.push(...page.value);
    onPage?.(out.length);
    next = page["@odata.nextLink"];
  }
  return out;
}
