// Shared set-up for the tests: a Graph JavaScript client pointed at a running Rolo.
//
// ROLO_BASE_URL   the server root without the version, e.g. http://127.0.0.1:8080, or
//                 https://localhost:8443 for Rolo serving TLS (trusted with NODE_EXTRA_CA_CERTS)
// ROLO_TOKEN      a bearer token with Contacts.ReadWrite and MailboxSettings.ReadWrite
// ROLO_TOKEN_OTHER  a Contacts.ReadWrite token of a second user

import { Client, HTTPMessageHandler } from "@microsoft/microsoft-graph-client";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run these tests through \`cargo test -p rolo --test e2e js_client\``);
  }
  return value;
}

export const BASE_URL = required("ROLO_BASE_URL").replace(/\/+$/, "");
export const TOKEN = required("ROLO_TOKEN");
export const TOKEN_OTHER = required("ROLO_TOKEN_OTHER");

/// The version prefix the SDK puts in front of every path.
const VERSIONED = `${BASE_URL}/v1.0/`;

/**
 * The first link of the middleware chain: attaches the bearer token and repairs absolute
 * http:// URLs.
 *
 * Two things in SDK 3.0.7 assume Graph is served over https, so the stock set-up cannot talk
 * to a plain-http Rolo on localhost:
 *  - its AuthenticationHandler only sends the token to https Graph hosts (or https custom hosts)
 *    and strips the Authorization header for any other URL;
 *  - GraphRequest only recognises an absolute URL given to `client.api()` (an
 *    `@odata.nextLink` or `@odata.deltaLink`) when it starts with https://; an http:// link is
 *    treated as a relative path and joined after the base URL and version.
 * This middleware does the token part itself, and turns a joined URL back into the absolute link
 * it came from. Everything else (URL building, query options, response parsing, GraphError,
 * PageIterator, batching) is the SDK's own code.
 */
class RoloBearer {
  constructor(token) {
    this.token = token;
    this.requests = [];
  }

  async execute(context) {
    if (typeof context.request === "string" && context.request.startsWith(`${VERSIONED}http`)) {
      const inner = context.request.slice(VERSIONED.length);
      if (/^https?:\/\//.test(inner)) {
        context.request = inner;
      }
    }
    this.requests.push(typeof context.request === "string" ? context.request : context.request.url);
    context.options = context.options || {};
    if (this.token) {
      const value = `Bearer ${this.token}`;
      if (context.options.headers instanceof Headers) {
        context.options.headers.set("Authorization", value);
      } else {
        context.options.headers = { ...(context.options.headers || {}), Authorization: value };
      }
    }
    return this.next.execute(context);
  }

  setNext(next) {
    this.next = next;
  }
}

/**
 * Every URL fetched in this process, in order. Over https the SDK runs unmodified; its last link
 * calls the global `fetch` at request time, so wrapping that records what it sent without a
 * middleware of ours in the chain.
 */
const fetched = [];
if (BASE_URL.startsWith("https://")) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    fetched.push(typeof input === "string" ? input : input.url);
    return realFetch(input, init);
  };
}

/**
 * The stock set-up from Microsoft's documentation, as an app written for Graph has it: over
 * https the SDK sends the token to a host named in `customHosts` and follows https links itself.
 */
function stockClient(token) {
  const client = Client.init({
    baseUrl: BASE_URL,
    defaultVersion: "v1.0",
    // Anonymous: Rolo is not a token host then, so the SDK sends no Authorization header.
    customHosts: new Set(token ? [new URL(BASE_URL).hostname] : []),
    authProvider: (done) => done(null, token),
  });
  client.requests = fetched;
  return client;
}

/**
 * A Graph client for Rolo acting with `token` (none: anonymous). `client.requests` lists every
 * URL the client fetched, in order.
 */
export function graphClient(token = TOKEN) {
  if (BASE_URL.startsWith("https://")) {
    return stockClient(token);
  }
  const bearer = new RoloBearer(token);
  const client = Client.initWithMiddleware({
    baseUrl: BASE_URL,
    defaultVersion: "v1.0",
    middleware: [bearer, new HTTPMessageHandler()],
  });
  client.requests = bearer.requests;
  return client;
}

let counter = 0;

/// A name unique within this process, so tests sharing one mailbox do not see each other.
export function unique(prefix) {
  counter += 1;
  return `${prefix}${process.pid}x${counter}`;
}

/// Runs `promise`, which must reject with a GraphError; returns the error.
export async function graphError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected the request to fail");
}
