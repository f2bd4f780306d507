// Drives a running Rolo with Microsoft's Graph JavaScript client (@microsoft/microsoft-graph-client).
// Started by crates/rolo/tests/js_client.rs, which sets ROLO_BASE_URL and the tokens.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  BatchRequestContent,
  BatchResponseContent,
  GraphError,
  PageIterator,
  ResponseType,
} from "@microsoft/microsoft-graph-client";

import { BASE_URL, TOKEN_OTHER, graphClient, graphError, unique } from "./rolo.mjs";

const client = graphClient();

/// Asserts that `e` is the SDK's GraphError for a Graph error envelope with this status and code.
function assertGraphError(e, statusCode, code) {
  assert.ok(e instanceof GraphError, `expected a GraphError, got ${e && e.stack}`);
  assert.equal(e.statusCode, statusCode, e.body);
  assert.equal(e.code, code, e.body);
  assert.equal(typeof e.message, "string");
  assert.ok(e.message.length > 0, "empty error message");
  assert.match(e.requestId, /\S/, "innerError.request-id missing");
  assert.ok(e.date instanceof Date && !Number.isNaN(e.date.getTime()), "innerError.date missing");
  const body = JSON.parse(e.body);
  assert.equal(body.code, code);
  assert.equal(body.innerError["request-id"], e.requestId);
  assert.equal(e.headers.get("request-id"), e.requestId);
}

async function createFolder(name, parent) {
  const path = parent ? `/me/contactFolders/${parent}/childFolders` : "/me/contactFolders";
  const folder = await client.api(path).post({ displayName: name });
  assert.equal(folder.displayName, name);
  return folder.id;
}

/// Creates contacts with these given names in folder `folder`, one after another; returns their ids.
async function createContacts(folder, names) {
  const ids = [];
  for (const givenName of names) {
    const c = await client.api(`/me/contactFolders/${folder}/contacts`).post({ givenName });
    ids.push(c.id);
  }
  return ids;
}

const sorted = (xs) => [...xs].sort();

test("me: the signed-in user, as most Graph apps' first call", async () => {
  const me = await client.api("/me").get();
  assert.equal(me.userPrincipalName, "adele@contoso.test");
  assert.equal(me.mail, "adele@contoso.test");
  assert.equal(me.displayName, "adele");
  assert.deepEqual(me.businessPhones, []);
  assert.match(me["@odata.context"], /\/\$metadata#users\/\$entity$/);
  const picked = await client.api("/me").select(["displayName", "id"]).get();
  assert.deepEqual(Object.keys(picked), ["@odata.context", "displayName", "id"]);
  assert.equal(picked.id, me.id);
  const org = await client.api("/organization").get();
  assert.equal(org.value[0].verifiedDomains.find((d) => d.isDefault).name, "contoso.test");
});

test("contacts: create, get, $select, patch, delete", async () => {
  const surname = unique("Bansky");
  const created = await client.api("/me/contacts").post({
    givenName: "Pavel",
    surname,
    emailAddresses: [{ address: "pavelb@fabrikam.example", name: "Pavel Bansky" }],
    businessPhones: ["+1 732 555 0102"],
    birthday: "1974-07-22T00:00:00Z",
  });
  assert.match(created.id, /^[A-Za-z0-9_-]+={0,2}$/);
  assert.equal(created.displayName, `Pavel ${surname}`);
  assert.deepEqual(created.emailAddresses, [{ address: "pavelb@fabrikam.example", name: "Pavel Bansky" }]);
  assert.deepEqual(created.businessPhones, ["+1 732 555 0102"]);
  assert.equal(created.birthday, "1974-07-22T00:00:00Z");
  assert.deepEqual(created.categories, []);
  assert.equal(typeof created["@odata.etag"], "string");
  assert.match(created["@odata.context"], /\/\$metadata#users\('[^']+'\)\/contacts\/\$entity$/);

  const got = await client.api(`/me/contacts/${created.id}`).get();
  assert.equal(got.id, created.id);
  assert.equal(got.displayName, `Pavel ${surname}`);
  assert.equal(got["@odata.etag"], created["@odata.etag"]);

  const selected = await client.api(`/me/contacts/${created.id}`).select(["givenName", "surname"]).get();
  assert.deepEqual(
    Object.keys(selected).filter((k) => !k.startsWith("@odata.")).sort(),
    ["givenName", "id", "surname"],
  );
  assert.equal(selected.surname, surname);

  const patched = await client.api(`/me/contacts/${created.id}`).patch({ jobTitle: "Director", surname: "Bánský" });
  assert.equal(patched.jobTitle, "Director");
  assert.equal(patched.displayName, "Pavel Bánský", "displayName is recomposed from the name parts");
  assert.deepEqual(patched.businessPhones, ["+1 732 555 0102"], "PATCH merges");
  assert.notEqual(patched["@odata.etag"], created["@odata.etag"]);

  // A write with the stale ETag is refused.
  const stale = await graphError(
    client.api(`/me/contacts/${created.id}`).header("If-Match", created["@odata.etag"]).patch({ jobTitle: "X" }),
  );
  assertGraphError(stale, 412, "ErrorIrresolvableConflict");

  const deleted = await client.api(`/me/contacts/${created.id}`).delete();
  assert.equal(deleted, undefined);
  assertGraphError(await graphError(client.api(`/me/contacts/${created.id}`).get()), 404, "ErrorItemNotFound");
});

test("contacts: $filter, $orderby, $top, $count", async () => {
  const p = unique("Q");
  const people = [
    { givenName: `${p}Ann`, surname: "Zeta", emailAddresses: [{ address: `ann.${p}@contoso.example` }] },
    { givenName: `${p}Bob`, surname: "Alpha", emailAddresses: [{ address: `bob.${p}@contoso.example` }] },
    { givenName: `${p}Cy`, surname: "Mid", emailAddresses: [{ address: `cy.${p}@fabrikam.example` }] },
    { givenName: `${p}Dee`, surname: "Beta", jobTitle: "Engineer" },
    { givenName: "Other", surname: `${p}Eve`, jobTitle: "Engineer" },
  ];
  const ids = {};
  for (const body of people) {
    const c = await client.api("/me/contacts").post(body);
    ids[body.givenName === "Other" ? "Eve" : body.givenName.slice(p.length)] = c.id;
  }

  const names = (r) => r.value.map((c) => c.givenName);

  let r = await client
    .api("/me/contacts")
    .filter(`startswith(displayName,'${p}')`)
    .orderby("givenName desc")
    .select("givenName,surname")
    .get();
  assert.deepEqual(names(r), [`${p}Dee`, `${p}Cy`, `${p}Bob`, `${p}Ann`]);
  assert.equal(r["@odata.nextLink"], undefined);

  r = await client
    .api("/me/contacts")
    .filter(`emailAddresses/any(a:a/address eq 'cy.${p}@fabrikam.example')`)
    .get();
  assert.deepEqual(r.value.map((c) => c.id), [ids.Cy]);

  r = await client
    .api("/me/contacts")
    .filter(`startswith(givenName,'${p}') and (surname eq 'Alpha' or surname eq 'Beta')`)
    .orderby("surname")
    .get();
  assert.deepEqual(names(r), [`${p}Bob`, `${p}Dee`]);

  // and/or with grouping, across name parts.
  r = await client
    .api("/me/contacts")
    .filter(`jobTitle eq 'Engineer' and (startswith(givenName,'${p}') or startswith(surname,'${p}'))`)
    .orderby("displayName")
    .get();
  assert.deepEqual(r.value.map((c) => c.id), [ids.Eve, ids.Dee]);

  // $top with $orderby and $count: the first two by surname, the count of all four.
  r = await client
    .api("/me/contacts")
    .filter(`startswith(givenName,'${p}')`)
    .orderby("surname")
    .top(2)
    .count(true)
    .select("surname")
    .get();
  assert.deepEqual(r.value.map((c) => c.surname), ["Alpha", "Beta"]);
  assert.equal(r["@odata.count"], 4);
  assert.equal(typeof r["@odata.nextLink"], "string");
});

test("paging: PageIterator follows @odata.nextLink over every page", async () => {
  const folder = await createFolder(unique("Paging"));
  const names = Array.from({ length: 23 }, (_, i) => `P${String(i).padStart(2, "0")}`);
  const ids = await createContacts(folder, names);
  const path = `/me/contactFolders/${folder}/contacts`;

  // Prefer: odata.maxpagesize, answered with Preference-Applied.
  const raw = await client
    .api(path)
    .header("Prefer", "odata.maxpagesize=5")
    .orderby("givenName")
    .responseType(ResponseType.RAW)
    .get();
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("Preference-Applied"), "odata.maxpagesize=5");
  const first = await raw.json();
  assert.equal(first.value.length, 5);
  assert.ok(first["@odata.nextLink"].startsWith(`${BASE_URL}/v1.0/`), first["@odata.nextLink"]);

  const seen = [];
  const before = client.requests.length;
  const iterator = new PageIterator(
    client,
    first,
    (contact) => {
      seen.push(contact);
      return true;
    },
    { headers: { Prefer: "odata.maxpagesize=5" } },
  );
  await iterator.iterate();
  assert.ok(iterator.isComplete());
  assert.equal(client.requests.length - before, 4, "pages 2 to 5 fetched");
  assert.deepEqual(seen.map((c) => c.givenName), names, "every contact once, in order");
  assert.deepEqual(sorted(seen.map((c) => c.id)), sorted(ids));

  // $top as the page size.
  const firstTop = await client.api(path).top(7).select("givenName").orderby("givenName desc").get();
  assert.equal(firstTop.value.length, 7);
  const seenTop = [];
  await new PageIterator(client, firstTop, (c) => {
    seenTop.push(c.givenName);
    return true;
  }).iterate();
  assert.deepEqual(seenTop, [...names].reverse());

  // Stopping early: the callback returns false; resuming continues where it stopped.
  const few = [];
  const stopping = new PageIterator(client, await client.api(path).top(4).orderby("givenName").get(), (c) => {
    few.push(c.givenName);
    return few.length % 6 !== 0;
  });
  await stopping.iterate();
  assert.deepEqual(few, names.slice(0, 6));
  assert.equal(stopping.isComplete(), false);
  await stopping.resume();
  assert.deepEqual(few, names.slice(0, 12));
});

test("folders: create, childFolders, contacts inside, get, rename, delete", async () => {
  const topName = unique("Family");
  const top = await createFolder(topName);
  const kids = await createFolder("Kids", top);
  const school = await createFolder("School", kids);

  const listed = await client.api("/me/contactFolders").filter(`displayName eq '${topName}'`).get();
  assert.deepEqual(listed.value.map((f) => f.id), [top]);
  assert.equal(typeof listed.value[0].parentFolderId, "string");

  const children = await client.api(`/me/contactFolders/${top}/childFolders`).get();
  assert.deepEqual(children.value.map((f) => [f.id, f.displayName, f.parentFolderId]), [[kids, "Kids", top]]);
  const grand = await client.api(`/me/contactFolders/${top}/childFolders/${kids}/childFolders`).get();
  assert.deepEqual(grand.value.map((f) => f.displayName), ["School"]);

  // Folder names are unique among siblings.
  assertGraphError(
    await graphError(client.api(`/me/contactFolders/${top}/childFolders`).post({ displayName: "KIDS" })),
    409,
    "ErrorFolderExists",
  );

  const inKids = await client.api(`/me/contactFolders/${kids}/contacts`).post({ givenName: "Tom" });
  assert.equal(inKids.parentFolderId, kids);
  const inSchool = await client
    .api(`/me/contactFolders/${top}/childFolders/${kids}/childFolders/${school}/contacts`)
    .post({ givenName: "Ms", surname: "Frizzle" });
  assert.equal(inSchool.parentFolderId, school);
  const kidsContacts = await client.api(`/me/contactFolders/${kids}/contacts`).select("givenName").get();
  assert.deepEqual(kidsContacts.value.map((c) => c.id), [inKids.id]);
  const fetched = await client.api(`/me/contactFolders/${school}/contacts/${inSchool.id}`).get();
  assert.equal(fetched.displayName, "Ms Frizzle");
  // The folder's contacts are not in the default folder's list.
  const defaults = await client.api("/me/contacts").filter("givenName eq 'Tom'").get();
  assert.deepEqual(defaults.value, []);

  const renamed = await client.api(`/me/contactFolders/${kids}`).patch({ displayName: "Children" });
  assert.equal(renamed.displayName, "Children");
  assert.equal((await client.api(`/me/contactFolders/${kids}`).get()).displayName, "Children");

  // Deleting the top folder takes its subtree and contacts with it.
  assert.equal(await client.api(`/me/contactFolders/${top}`).delete(), undefined);
  for (const path of [
    `/me/contactFolders/${top}`,
    `/me/contactFolders/${kids}`,
    `/me/contactFolders/${school}`,
    `/me/contacts/${inKids.id}`,
    `/me/contacts/${inSchool.id}`,
  ]) {
    assertGraphError(await graphError(client.api(path).get()), 404, "ErrorItemNotFound");
  }
});

test("categories: master list and categories/any filters", async () => {
  const red = unique("Red team ");
  const blue = unique("Blue team ");
  const a = await client.api("/me/outlook/masterCategories").post({ displayName: red, color: "preset0" });
  assert.equal(a.displayName, red);
  assert.equal(a.color, "preset0");
  const b = await client.api("/me/outlook/masterCategories").post({ displayName: blue, color: "preset7" });

  const list = await client.api("/me/outlook/masterCategories").get();
  const mine = list.value.filter((c) => c.id === a.id || c.id === b.id);
  assert.deepEqual(
    mine.map((c) => [c.displayName, c.color]).sort(),
    [
      [blue, "preset7"],
      [red, "preset0"],
    ],
  );
  assertGraphError(
    await graphError(client.api("/me/outlook/masterCategories").post({ displayName: red.toUpperCase() })),
    409,
    "ErrorDuplicateCategory",
  );
  const recoloured = await client.api(`/me/outlook/masterCategories/${b.id}`).patch({ color: "preset12" });
  assert.equal(recoloured.color, "preset12");

  const one = await client.api("/me/contacts").post({ givenName: "Ric", categories: [red] });
  const both = await client.api("/me/contacts").post({ givenName: "Bo", categories: [blue, red] });
  await client.api("/me/contacts").post({ givenName: "Bea", categories: [blue] });

  const r = await client.api("/me/contacts").filter(`categories/any(c:c eq '${red}')`).orderby("givenName").get();
  assert.deepEqual(r.value.map((c) => c.id), [both.id, one.id]);
  assert.deepEqual(r.value[0].categories, [blue, red]);
  // Category names match ignoring case, as on Graph.
  const lower = await client.api("/me/contacts").filter(`categories/any(c:c eq '${red.toLowerCase()}')`).get();
  assert.equal(lower.value.length, 2);

  assert.equal(await client.api(`/me/outlook/masterCategories/${a.id}`).delete(), undefined);
  const after = await client.api("/me/outlook/masterCategories").get();
  assert.deepEqual(after.value.filter((c) => c.id === a.id || c.id === b.id).map((c) => c.id), [b.id]);
  assertGraphError(
    await graphError(client.api(`/me/outlook/masterCategories/${a.id}`).get()),
    404,
    "ErrorItemNotFound",
  );
  // Items keep the name after the category is deleted.
  assert.deepEqual((await client.api(`/me/contacts/${one.id}`).get()).categories, [red]);
});

/// One delta round from `url`, following @odata.nextLink to @odata.deltaLink with pages of `page`.
async function deltaRound(url, page) {
  const items = [];
  const sizes = [];
  let next = url;
  for (let i = 0; i < 100; i += 1) {
    const r = await client.api(next).header("Prefer", `odata.maxpagesize=${page}`).get();
    sizes.push(r.value.length);
    items.push(...r.value);
    const nextLink = r["@odata.nextLink"];
    const deltaLink = r["@odata.deltaLink"];
    assert.ok((nextLink === undefined) !== (deltaLink === undefined), "exactly one of nextLink and deltaLink");
    if (deltaLink !== undefined) {
      return { items, sizes, deltaLink };
    }
    next = nextLink;
  }
  throw new Error("delta round does not end");
}

test("delta: initial round, then an incremental round with updates and @removed", async () => {
  const folder = await createFolder(unique("Sync"));
  const names = Array.from({ length: 12 }, (_, i) => `D${i}`);
  const ids = await createContacts(folder, names);

  const start = await deltaRound(`/me/contactFolders/${folder}/contacts/delta`, 5);
  assert.deepEqual(start.sizes, [5, 5, 2]);
  assert.deepEqual(sorted(start.items.map((c) => c.id)), sorted(ids));
  assert.ok(start.items.every((c) => c["@odata.type"] === "#microsoft.graph.contact"));
  assert.ok(start.deltaLink.startsWith(`${BASE_URL}/v1.0/`), start.deltaLink);

  // Nothing changed: an empty round.
  const quiet = await deltaRound(start.deltaLink, 5);
  assert.deepEqual(quiet.items, []);

  await client.api(`/me/contacts/${ids[0]}`).patch({ jobTitle: "Changed" });
  await client.api(`/me/contactFolders/${folder}/contacts/${ids[1]}`).delete();
  const fresh = await client.api(`/me/contactFolders/${folder}/contacts`).post({ givenName: "New" });
  // A change outside the folder is not in this folder's delta.
  await client.api("/me/contacts").post({ givenName: "Elsewhere" });

  const changes = await deltaRound(quiet.deltaLink, 2);
  assert.equal(changes.items.length, 3, JSON.stringify(changes.items));
  const byId = new Map(changes.items.map((c) => [c.id, c]));
  assert.equal(byId.get(ids[0]).jobTitle, "Changed");
  assert.equal(byId.get(ids[0])["@removed"], undefined);
  assert.deepEqual(byId.get(ids[1])["@removed"], { reason: "deleted" });
  assert.equal(byId.get(fresh.id).givenName, "New");

  // The SDK's PageIterator also walks a delta round and hands back the deltaLink.
  await client.api(`/me/contacts/${ids[2]}`).patch({ jobTitle: "Again" });
  const seen = [];
  const iterator = new PageIterator(client, await client.api(changes.deltaLink).get(), (c) => {
    seen.push(c);
    return true;
  });
  await iterator.iterate();
  assert.deepEqual(seen.map((c) => [c.id, c.jobTitle]), [[ids[2], "Again"]]);
  assert.ok(iterator.getDeltaLink().startsWith(`${BASE_URL}/v1.0/`), iterator.getDeltaLink());
});

/// An absolute URL for a batch step, built as the SDK's documentation builds them: with the
/// version. SDK 3.0.7 sends everything after the host as the step's url (`/v1.0/me/contacts`),
/// which Rolo reads against the batch's own version.
const step = (path) => `${BASE_URL}/v1.0${path}`;
const JSON_HEADERS = { "Content-Type": "application/json" };

/// Sends the steps of `batch` (a BatchRequestContent); returns the SDK's BatchResponseContent and
/// the raw `responses` array by id.
async function sendBatch(batch) {
  const raw = await client.api("/$batch").post(await batch.getContent());
  assert.ok(Array.isArray(raw.responses), JSON.stringify(raw));
  return { responses: new BatchResponseContent(raw), raw: new Map(raw.responses.map((r) => [r.id, r])) };
}

// The inner bodies are read from the raw batch JSON here; the SDK's own accessors are tested
// below.
test("batching: BatchRequestContent and BatchResponseContent, with dependsOn", async () => {
  const name = unique("Batch");

  // Serial: each request depends on the one before; the search sees the contact just created.
  const serial = new BatchRequestContent();
  serial.addRequest({
    id: "create",
    request: new Request(step("/me/contacts"), {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ givenName: name, surname: "One" }),
    }),
  });
  serial.addRequest({
    id: "find",
    request: new Request(step(`/me/contacts?$filter=givenName eq '${name}'&$select=givenName,surname`)),
  });
  serial.addDependency("find", "create");
  serial.addRequest({
    id: "folder",
    request: new Request(step("/me/contactFolders"), {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ displayName: name }),
    }),
    dependsOn: ["find"],
  });
  const content = await serial.getContent();
  assert.deepEqual(
    content.requests.map((r) => [r.id, r.method, r.url, r.dependsOn]),
    [
      ["create", "POST", "/v1.0/me/contacts", undefined],
      ["find", "GET", `/v1.0/me/contacts?$filter=givenName%20eq%20%27${name}%27&$select=givenName,surname`, ["create"]],
      ["folder", "POST", "/v1.0/me/contactFolders", ["find"]],
    ],
  );
  let { responses, raw } = await sendBatch(serial);
  assert.equal(responses.getResponses().size, 3);
  assert.deepEqual(
    ["create", "find", "folder"].map((id) => responses.getResponseById(id).status),
    [201, 200, 201],
  );
  const contact = raw.get("create").body;
  assert.equal(contact.displayName, `${name} One`);
  assert.deepEqual(raw.get("find").body.value.map((c) => [c.id, c.givenName, c.surname]), [[contact.id, name, "One"]]);
  assert.equal(raw.get("folder").body.displayName, name);

  // All depend on one request that fails: the others are not run (424).
  ({ responses, raw } = await sendBatch(
    new BatchRequestContent([
      { id: "missing", request: new Request(step("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA")) },
      {
        id: "delete",
        request: new Request(step(`/me/contacts/${contact.id}`), { method: "DELETE" }),
        dependsOn: ["missing"],
      },
      {
        id: "patch",
        request: new Request(step(`/me/contacts/${contact.id}`), {
          method: "PATCH",
          headers: JSON_HEADERS,
          body: JSON.stringify({ jobTitle: "Never" }),
        }),
        dependsOn: ["missing"],
      },
    ]),
  ));
  assert.equal(responses.getResponseById("missing").status, 404);
  assert.equal(raw.get("missing").body.error.code, "ErrorItemNotFound");
  assert.equal(responses.getResponseById("delete").status, 424);
  assert.equal(responses.getResponseById("patch").status, 424);
  assert.equal((await client.api(`/me/contacts/${contact.id}`).get()).jobTitle, null, "424: not run");

  // Independent requests, each with its own outcome.
  ({ responses, raw } = await sendBatch(
    new BatchRequestContent([
      {
        id: "1",
        request: new Request(step(`/me/contacts/${contact.id}`), {
          method: "PATCH",
          headers: JSON_HEADERS,
          body: JSON.stringify({ jobTitle: "Batched" }),
        }),
      },
      { id: "2", request: new Request(step("/me/contacts/abc")) },
      { id: "3", request: new Request(step("/me/contacts?$filter=displayName eq")) },
      { id: "4", request: new Request(step("/me/contactFolders"), { method: "DELETE" }) },
    ]),
  ));
  assert.equal(responses.getResponseById("1").status, 200);
  assert.equal(raw.get("1").body.jobTitle, "Batched");
  assert.deepEqual(
    ["2", "3", "4"].map((id) => [responses.getResponseById(id).status, raw.get(id).body.error.code]),
    [
      [400, "ErrorInvalidIdMalformed"],
      [400, "BadRequest"],
      [405, "ErrorInvalidRequest"],
    ],
  );
  assert.equal((await client.api(`/me/contacts/${contact.id}`).get()).jobTitle, "Batched");
});

// Graph names the inner response headers `Content-Type`, and BatchResponseContent looks up
// `headers["Content-Type"]` (case-sensitively) to decide whether to re-serialise the JSON body.
test(
  "batching: getResponseById(id).json() gives the inner JSON body",
  async () => {
    const { responses } = await sendBatch(
      new BatchRequestContent([
        { id: "ok", request: new Request(step("/me/contactFolders?$top=1")) },
        { id: "missing", request: new Request(step("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA")) },
      ]),
    );
    assert.ok(Array.isArray((await responses.getResponseById("ok").json()).value));
    assert.equal((await responses.getResponseById("missing").json()).error.code, "ErrorItemNotFound");
  },
);

test("errors: GraphError carries Graph's status and code", async () => {
  assertGraphError(await graphError(client.api("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA").get()), 404, "ErrorItemNotFound");
  assertGraphError(
    await graphError(client.api("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA").patch({ jobTitle: "x" })),
    404,
    "ErrorItemNotFound",
  );
  assertGraphError(await graphError(client.api("/me/contacts/abc").get()), 400, "ErrorInvalidIdMalformed");

  // $filter: a syntax error, and a property Graph does not filter on.
  assertGraphError(await graphError(client.api("/me/contacts").filter("displayName eq").get()), 400, "BadRequest");
  assertGraphError(
    await graphError(client.api("/me/contacts").filter("mobilePhone eq '1'").get()),
    400,
    "ErrorInvalidUrlQueryFilter",
  );
  assertGraphError(await graphError(client.api("/me/contacts").post({ shoeSize: 44 })), 400, "RequestBodyRead");
  assertGraphError(await graphError(client.api("/me/contacts").delete()), 405, "ErrorInvalidRequest");

  // No token, and a token that is not one.
  const anonymous = graphClient(null);
  assertGraphError(await graphError(anonymous.api("/me/contacts").get()), 401, "InvalidAuthenticationToken");
  const forged = graphClient("not.a.token");
  assertGraphError(await graphError(forged.api("/me/contacts").get()), 401, "InvalidAuthenticationToken");
});

test("errors: another user's contacts are out of reach", async () => {
  const other = graphClient(TOKEN_OTHER);
  const theirs = await other.api("/me/contacts").post({ givenName: "Private" });
  assertGraphError(await graphError(client.api(`/me/contacts/${theirs.id}`).get()), 404, "ErrorItemNotFound");
  const mine = await client.api("/me/contacts").filter("givenName eq 'Private'").get();
  assert.deepEqual(mine.value, []);
  // The owner still sees it.
  assert.equal((await other.api(`/me/contacts/${theirs.id}`).get()).givenName, "Private");
});
