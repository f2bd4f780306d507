// Rolo People in a real browser: Playwright (playwright-core) driving the system's Chromium
// against a running Rolo, with an axe-core scan of every screen. Started by
// crates/rolo/tests/e2e/webapp.rs, which seeds the users and passes:
//   ROLO_ORIGIN      http://127.0.0.1:PORT
//   ROLO_USER, ROLO_PASSWORD       the signed-in user (owner of folder "Work", category "Blue team")
//   ROLO_OWNER       a user who made ROLO_USER a read-only delegate (and Lin Folder shares her
//                    folder Team with ROLO_USER; the app Phone Book is registered)
//   ROLO_SCREENSHOTS a directory for screenshots of the main screens (optional)
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Exits non-zero on the first failed step, saying which.

import { chromium } from "playwright-core";
import { readFileSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ORIGIN = process.env.ROLO_ORIGIN;
const USER = process.env.ROLO_USER;
const PASSWORD = process.env.ROLO_PASSWORD;
const OWNER = process.env.ROLO_OWNER;
const SHOTS = process.env.ROLO_SCREENSHOTS;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(ORIGIN && USER && PASSWORD && OWNER, "ROLO_ORIGIN, ROLO_USER, ROLO_PASSWORD and ROLO_OWNER must be set");
if (!existsSync(CHROMIUM)) {
  console.error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
  process.exit(2);
}
if (SHOTS) mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error" && !/status of (400|404|412|403)/.test(m.text())) problems.push(`console: ${m.text()}`); });

let step = "start";
const T = 10_000;

/** axe-core on the page as it is: no serious or critical violations. */
async function scan(name) {
  // Through the DevTools protocol: the app's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")})`), [], `accessibility of ${name}`);
}

async function shot(name) {
  if (!SHOTS) return;
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove()));
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

const token = () => page.evaluate(() => JSON.parse(sessionStorage.getItem("rolo.tokens")).access);
async function graph(method, path, body, headers = {}, version = "v1.0") {
  const r = await fetch(`${ORIGIN}/${version}${path}`, {
    method, headers: { Authorization: `Bearer ${await token()}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
const row = (name) => page.locator("#list .row", { hasText: name });
const byName = async (name) => (await graph("GET", `/me/contacts?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`, undefined, {}, "beta")).body.value[0];

/** Polls a condition (page.waitForFunction would need 'unsafe-eval', which the app's CSP refuses). */
async function until(check, what, timeout = T) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function save() {
  await page.getByRole("button", { name: "Save", exact: true }).click();
}

try {
  step = "the sign-in screen";
  await page.goto(`${ORIGIN}/`);
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: T });
  await scan(step);

  step = "sign in (authorization code with PKCE)";
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#login").fill(USER);
  await page.locator("#passwd").fill(PASSWORD);
  await page.locator("button[value=signin]").click();
  await page.waitForURL(`${ORIGIN}/`, { timeout: T });
  await row("Ada Lovelace").waitFor({ timeout: T });
  assert.equal(await page.locator("#count").textContent(), "4 contacts");

  step = "the contact list";
  await row("Ada Lovelace").click();
  await page.getByRole("heading", { name: "Ada Lovelace" }).waitFor({ timeout: T });
  await scan(step);
  await shot("contacts");

  step = "create a contact";
  await page.getByRole("button", { name: "New contact" }).click();
  await page.getByLabel("First name", { exact: true }).fill("Zelda");
  await page.getByLabel("Last name", { exact: true }).fill("Quartz");
  await page.getByLabel("E-mail addresses").fill("zelda@example.com");
  await scan("the contact editor");
  await shot("editor");
  await save();
  await page.getByRole("heading", { name: "Zelda Quartz" }).waitFor({ timeout: T });
  await row("Zelda Quartz").waitFor({ timeout: T });
  const zelda = await byName("Zelda Quartz");
  assert.equal(zelda.emailAddresses[0].address, "zelda@example.com");

  step = "edit a contact";
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await page.getByLabel("Job title").fill("Geologist");
  await page.getByLabel("Birthday").fill("1990-04-05");
  await save();
  await page.locator("#detail dd", { hasText: "Geologist" }).waitFor({ timeout: T });
  await page.locator("#detail dd", { hasText: "5 April 1990" }).waitFor({ timeout: T });
  assert.equal((await byName("Zelda Quartz")).jobTitle, "Geologist");

  step = "a stale edit shows a conflict";
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const elsewhere = await graph("PATCH", `/me/contacts/${zelda.id}`, { jobTitle: "Mineralogist" });
  assert.equal(elsewhere.status, 200);
  await page.getByLabel("Job title").fill("Volcanologist");
  await save();
  await page.locator(".conflict").waitFor({ timeout: T });
  assert.equal((await byName("Zelda Quartz")).jobTitle, "Mineralogist", "nothing overwritten");
  await scan("the conflict");
  await page.getByRole("button", { name: "Discard mine and show theirs" }).click();
  await page.locator("#detail dd", { hasText: "Mineralogist" }).waitFor({ timeout: T });

  step = "search as you type";
  await page.locator("#search").fill("quar");
  await until(async () => (await page.locator("#list .row").count()) === 1, "one search result");
  await row("Zelda Quartz").waitFor({ timeout: T });
  await page.locator("#search").fill("quartx");
  await row("Zelda Quartz").waitFor({ timeout: T });
  await page.locator("#search").fill("");
  await row("Ada Lovelace").waitFor({ timeout: T });

  step = "drag a contact to a folder";
  const work = page.locator("#sidebar .nav", { hasText: "Work" });
  await row("Zelda Quartz").dragTo(work);
  await page.locator(".toast", { hasText: "Moved 1 contact to Work" }).waitFor({ timeout: T });
  const folders = (await graph("GET", "/me/contactFolders")).body.value;
  assert.equal((await byName("Zelda Quartz")).parentFolderId, folders.find((f) => f.displayName === "Work").id);
  await work.click();
  await row("Zelda Quartz").waitFor({ timeout: T });

  step = "drag a folder into another";
  await page.locator("#sidebar .nav", { hasText: "Clients" }).dragTo(work);
  await page.locator(".toast", { hasText: "Moved the folder Clients into Work" }).waitFor({ timeout: T });
  const workId = folders.find((f) => f.displayName === "Work").id;
  const children = (await graph("GET", `/me/contactFolders/${workId}/childFolders`)).body.value;
  assert.deepEqual(children.map((f) => f.displayName), ["Clients"]);
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();

  step = "label with a category";
  // The view switch redraws the list on the next frame, moving Zelda's row from the top of Work
  // to the end of All contacts: a click before that lands on whichever row is there then, so
  // wait for the redraw, and for Zelda's card before editing it.
  await page.locator("#view-title", { hasText: "All contacts" }).waitFor({ timeout: T });
  await until(async () => (await page.locator("#count").textContent()) === "5 contacts", "all five contacts listed");
  await row("Zelda Quartz").click();
  await page.getByRole("heading", { name: "Zelda Quartz" }).waitFor({ timeout: T });
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await page.getByLabel("Blue team").check();
  await save();
  // The stored contact first, so a failure says whether the save or the list's redraw is late.
  await until(async () => (await byName("Zelda Quartz")).categories?.[0] === "Blue team", "the category saved");
  await row("Zelda Quartz").locator(".label", { hasText: "Blue team" }).waitFor({ timeout: T });
  assert.deepEqual((await byName("Zelda Quartz")).categories, ["Blue team"]);

  step = "recolour a category";
  await page.locator("#sidebar .nav", { hasText: "Blue team" }).click();
  await row("Zelda Quartz").waitFor({ timeout: T });
  await page.getByRole("button", { name: "Colour", exact: true }).click();
  await page.getByLabel("Colour", { exact: true }).selectOption("preset4");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await until(async () => (await graph("GET", "/me/outlook/masterCategories")).body.value[0].color === "preset4", "the new colour");
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();
  await row("Zelda Quartz").click();

  step = "flag";
  await page.getByRole("button", { name: "Flag", exact: true }).click();
  await row("Zelda Quartz").locator(".flag").waitFor({ timeout: T });
  const flagged = await graph("GET", `/me/contacts/${zelda.id}?$select=flag`, undefined, {}, "beta");
  assert.equal(flagged.body.flag.flagStatus, "flagged");

  step = "favourite goes to the top";
  await page.getByRole("button", { name: "Favourite", exact: true }).click();
  await until(async () => /Zelda/.test(await page.locator("#list .row[aria-posinset='1']").textContent({ timeout: 500 }).catch(() => "")), "Zelda first");

  step = "upload a photo";
  const png = await page.evaluate(async () => {
    const c = document.createElement("canvas");
    c.width = 120; c.height = 80;
    const g = c.getContext("2d");
    g.fillStyle = "#2563eb"; g.fillRect(0, 0, 120, 80);
    g.fillStyle = "#fff"; g.fillRect(40, 20, 40, 40);
    return c.toDataURL("image/png").split(",")[1];
  });
  await page.locator("#photo-file").setInputFiles({ name: "face.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
  await page.getByRole("heading", { name: "New photo" }).waitFor({ timeout: T });
  assert.equal(await page.locator("img.preview").count(), 3);
  await scan("the photo preview");
  await page.getByRole("button", { name: "Use this photo" }).click();
  await page.locator(".toast", { hasText: "Photo updated" }).waitFor({ timeout: T });
  await page.locator("img.photo:not([hidden])").waitFor({ timeout: T });
  const photo = await graph("GET", `/me/contacts/${zelda.id}/photo`);
  assert.equal(photo.status, 200);
  assert.equal(photo.body.width, photo.body.height, "cropped square");
  await shot("contact");

  step = "import a vCard file";
  const vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Import;Ivy;;;\r\nFN:Ivy Import\r\nEMAIL:ivy@example.com\r\nEND:VCARD\r\n";
  await page.locator("#import-file").setInputFiles({ name: "ivy.vcf", mimeType: "text/vcard", buffer: Buffer.from(vcf) });
  await page.locator(".toast", { hasText: "Imported 1 contact" }).waitFor({ timeout: T });
  await row("Ivy Import").waitFor({ timeout: 15_000 });

  step = "delete and undo";
  await row("Ivy Import").click();
  await page.getByRole("heading", { name: "Ivy Import" }).waitFor({ timeout: T });
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  const undo = page.locator(".toast", { hasText: "Deleted Ivy Import" }).getByRole("button", { name: "Undo" });
  await undo.waitFor({ timeout: T });
  await row("Ivy Import").waitFor({ state: "detached", timeout: T });
  assert.equal(await byName("Ivy Import"), undefined);
  await undo.click();
  await row("Ivy Import").waitFor({ timeout: T });
  assert.equal((await byName("Ivy Import")).emailAddresses[0].address, "ivy@example.com");

  step = "select several and flag them at once";
  await row("Ada Lovelace").locator(".check").click();
  await row("Mary Somerville").locator(".check").click();
  const bulk = page.getByRole("toolbar", { name: "Selected contacts" });
  await bulk.getByText("2 selected").waitFor({ timeout: T });
  await scan("a selection");
  await bulk.getByRole("button", { name: "Flag", exact: true }).click();
  await page.locator(".toast", { hasText: "Updated 2 contacts" }).waitFor({ timeout: T });
  for (const name of ["Ada Lovelace", "Mary Somerville"]) assert.equal((await byName(name)).flag.flagStatus, "flagged", name);
  await bulk.getByRole("button", { name: "Clear selection" }).click();

  step = "an expired access token is refreshed";
  const before = await token();
  await page.evaluate(() => {
    const t = JSON.parse(sessionStorage.getItem("rolo.tokens"));
    sessionStorage.setItem("rolo.tokens", JSON.stringify({ ...t, expires: 0 }));
  });
  await row("Mary Somerville").click();
  await page.getByRole("heading", { name: "Mary Somerville" }).waitFor({ timeout: T });
  await until(async () => (await token()) !== before, "a new access token");

  step = "changes made elsewhere appear (delta)";
  await graph("POST", "/me/contacts", { givenName: "Remote", surname: "Writer" });
  await row("Remote Writer").waitFor({ timeout: 15_000 });

  step = "frequently contacted (the People API's ranking)";
  await page.locator("#sidebar .nav", { hasText: "Frequently contacted" }).click();
  // Contacts with an address the People API ranks: Mary (three mails sent), Ada (one), then the
  // two without mail; Charles, Charlie and Remote Writer have no address to match.
  await until(async () => (await page.locator("#count").textContent()) === "4 contacts", "four ranked contacts");
  const ranked = async (n) => page.locator(`#list .row[aria-posinset='${n}'] .name`).textContent();
  assert.equal(await ranked(1), "Mary Somerville");
  assert.equal(await ranked(2), "Ada Lovelace");
  assert.deepEqual([await ranked(3), await ranked(4)].sort(), ["Ivy Import", "Zelda Quartz"]);
  const people = (await graph("GET", "/me/people?$top=1")).body.value;
  assert.equal(people[0].scoredEmailAddresses[0].address, "mary@science.test", "the API ranks Mary first too");
  await scan(step);
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();

  step = "merge two duplicates";
  await page.locator("#sidebar .nav", { hasText: "Duplicates" }).click();
  const pair = page.locator(".dupes li", { hasText: /Charl\w+ Babbage and Charl\w+ Babbage/ });
  await pair.waitFor({ timeout: T });
  assert.match(await pair.textContent(), /same phone number/);
  await scan("duplicates");
  await shot("duplicates");
  await pair.getByRole("button", { name: "Review" }).click();
  await page.getByRole("heading", { name: /^Merge / }).waitFor({ timeout: T });
  await page.getByRole("button", { name: "Merge", exact: true }).click();
  const undoMerge = page.locator(".toast", { hasText: "Merged into" }).getByRole("button", { name: "Undo" });
  await undoMerge.waitFor({ timeout: T });
  const babbages = async () => (await graph("GET", `/me/contacts?$filter=${encodeURIComponent("surname eq 'Babbage'")}`, undefined, {}, "beta")).body.value;
  const merged = await babbages();
  assert.equal(merged.length, 1, "one contact after the merge");
  assert.equal(merged[0].jobTitle, "Inventor", "values of the removed contact kept");
  assert.deepEqual(merged[0].phones.map((p) => p.number).sort(), ["+44 (20) 7946-0000", "+44 20 7946 0000"]);
  await undoMerge.click();
  await page.locator(".toast", { hasText: "The merge was undone" }).waitFor({ timeout: T });
  assert.equal((await babbages()).length, 2, "both contacts back after Undo");
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();

  step = "the keyboard shortcut list";
  await page.locator("#list").focus();
  await page.keyboard.press("?");
  await page.getByRole("heading", { name: "Keyboard shortcuts" }).waitFor({ timeout: T });
  await scan(step);
  await page.getByRole("button", { name: "Close" }).click();

  step = "open a delegated mailbox read-only";
  await page.getByRole("button", { name: "Open a mailbox…" }).click();
  await page.getByLabel("Their e-mail address").fill(OWNER);
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await page.locator(".mailbox", { hasText: "(read-only)" }).waitFor({ timeout: T });
  await row("Grace Hopper").click();
  await page.getByRole("heading", { name: "Grace Hopper" }).waitFor({ timeout: T });
  assert.equal(await page.getByRole("button", { name: "Edit", exact: true }).count(), 0, "no Edit on a read-only mailbox");
  assert.equal(await page.getByRole("button", { name: "New contact" }).isVisible(), false);
  await scan(step);
  await shot("delegated");
  await page.getByRole("button", { name: "My contacts" }).click();
  await row("Zelda Quartz").waitFor({ timeout: T });

  step = "open a mailbox shared folder by folder";
  const lin = page.locator("#sidebar .nav", { hasText: "Lin Folder" });
  assert.match(await lin.textContent(), /Lin Folder · folder Team$/);
  await lin.click();
  await page.locator(".mailbox", { hasText: "Lin Folder (read-only)" }).waitFor({ timeout: T });
  await row("Tess Team").waitFor({ timeout: T });
  assert.equal(await page.locator("#count").textContent(), "1 contact");
  assert.equal(await row("Pat Private").count(), 0, "an unshared folder's contact stays hidden");
  const navs = await page.locator("#sidebar .nav").allTextContents();
  assert.ok(navs.includes("Team") && !navs.includes("Private") && !navs.includes("Contacts"), navs.join(" | "));
  assert.equal(await page.getByRole("button", { name: "New folder" }).count(), 0);
  assert.equal(await page.locator("#sidebar h2", { hasText: "Categories" }).count(), 0, "no categories to show");
  await row("Tess Team").click();
  await page.getByRole("heading", { name: "Tess Team" }).waitFor({ timeout: T });
  assert.equal(await page.getByRole("button", { name: "Edit", exact: true }).count(), 0, "read-only folder");
  await page.locator("#search").fill("tess");
  await until(async () => (await page.locator("#count").textContent()) === "1 contact", "the shared folder searched");
  await page.locator("#search").fill("");
  await scan(step);
  await shot("shared-folders");
  await page.getByRole("button", { name: "My contacts" }).click();
  await row("Zelda Quartz").waitFor({ timeout: T });

  step = "app passwords for CardDAV";
  await page.locator("#sidebar .nav", { hasText: "App passwords" }).click();
  await page.locator("#detail").getByRole("heading", { name: "App passwords", exact: true }).waitFor({ timeout: T });
  assert.equal(await page.locator("table.passwords caption").textContent(), "0 app passwords");
  await page.getByLabel("What it is for").fill("Phone");
  await page.getByRole("button", { name: "Create app password" }).click();
  const secret = await page.locator("#secret-text").textContent({ timeout: T });
  assert.match(secret, /^\S{30,}$/);
  assert.equal(await page.locator("table.passwords caption").textContent(), "1 app password");
  assert.deepEqual((await graph("GET", "/me/appPasswords")).body.value.map((p) => p.displayName), ["Phone"]);
  const dav = (password) => fetch(`${ORIGIN}/dav/addressbooks/${USER}/`, {
    method: "PROPFIND", headers: { Depth: "0", Authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString("base64")}` } });
  assert.equal((await dav(secret)).status, 207, "the new password opens CardDAV");
  await scan(step);
  await shot("app-passwords");
  await page.getByRole("button", { name: "Revoke Phone" }).click();
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.locator(".toast", { hasText: "Revoked the app password Phone." }).waitFor({ timeout: T });
  await until(async () => (await page.locator("table.passwords caption").textContent()) === "0 app passwords", "the list emptied");
  assert.equal(await page.locator("#secret-text").count(), 0, "the secret is shown only once");
  assert.deepEqual((await graph("GET", "/me/appPasswords")).body.value, []);
  assert.equal((await dav(secret)).status, 401, "a revoked password is refused");
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();

  step = "dark theme";
  await page.emulateMedia({ colorScheme: "dark" });
  await row("Zelda Quartz").click();
  await scan(step);
  await shot("dark");
  await page.emulateMedia({ colorScheme: "light" });

  step = "phone width";
  await page.setViewportSize({ width: 390, height: 844 });
  await scan(step);
  await shot("phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  step = "an administrator creates a user";
  await page.locator("#sidebar .nav", { hasText: "Users" }).click();
  await page.locator("#detail").getByRole("heading", { name: "Users", exact: true }).waitFor({ timeout: T });
  await page.getByLabel("Display name").fill("Newbie Person");
  await page.getByLabel("User name (e-mail)").fill("newbie@contoso.test");
  await page.getByLabel("Password", { exact: true }).fill("fresh start 1");
  await scan("administration");
  await shot("admin");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.locator("table.users td", { hasText: "newbie@contoso.test" }).waitFor({ timeout: T });

  step = "an administrator creates a shared mailbox and adds a member";
  await page.locator("#sidebar .nav", { hasText: "Shared mailboxes" }).click();
  await page.locator("#detail").getByRole("heading", { name: "Shared mailboxes" }).waitFor({ timeout: T });
  await page.getByText("No shared mailbox yet.").waitFor({ timeout: T });
  await page.getByLabel("Display name").fill("Help Desk");
  await page.getByLabel("Address", { exact: true }).fill("helpdesk@contoso.test");
  await page.getByRole("button", { name: "Create shared mailbox" }).click();
  await page.getByRole("heading", { name: "Add a member to Help Desk" }).waitFor({ timeout: T });
  const helpdesk = (await graph("GET", "/users/helpdesk@contoso.test?$select=accountEnabled,mailboxSettings")).body;
  assert.deepEqual([helpdesk.accountEnabled, helpdesk.mailboxSettings.userPurpose], [false, "shared"]);
  await page.getByLabel("Their e-mail address").fill(USER);
  await page.getByLabel("Access", { exact: true }).selectOption("write");
  await page.getByRole("button", { name: "Add member" }).click();
  await page.locator("table.grantees td", { hasText: USER }).waitFor({ timeout: T });
  assert.equal(await page.locator("table.grantees caption").textContent(), "1 member of Help Desk");
  const members = (await graph("GET", "/users/helpdesk@contoso.test/mailboxPermissions")).body.value;
  assert.deepEqual(members.map((m) => [m.emailAddress.address, m.role]), [[USER, "write"]]);
  await scan("shared mailboxes");
  await shot("admin-shared");
  const desk = page.locator("#sidebar .nav", { hasText: "Help Desk" });
  await desk.waitFor({ timeout: T });
  assert.match(await desk.textContent(), /Help Desk · shared mailbox, read and write$/);
  await desk.click();
  await page.locator(".mailbox", { hasText: "Help Desk" }).waitFor({ timeout: T });
  assert.equal(await page.locator(".mailbox").textContent(), "Help Desk");
  await until(async () => (await page.locator("#count").textContent()) === "0 contacts", "the empty shared mailbox");
  assert.equal(await page.getByRole("button", { name: "New contact" }).isVisible(), true, "members may write");
  await page.getByRole("button", { name: "My contacts" }).click();
  await row("Zelda Quartz").waitFor({ timeout: T });

  step = "an administrator adds, changes and removes a delegate";
  await page.locator("#sidebar .nav", { hasText: "Delegates" }).click();
  await page.locator("#detail").getByRole("heading", { name: "Delegates", exact: true }).waitFor({ timeout: T });
  await page.getByLabel("Person").selectOption({ label: `Grace Owner (${OWNER})` });
  await page.getByRole("heading", { name: "Add a delegate to Grace Owner" }).waitFor({ timeout: T });
  assert.equal(await page.locator("table.grantees caption").textContent(), "1 delegate of Grace Owner");
  await page.getByLabel("Their e-mail address").fill("newbie@contoso.test");
  await page.getByRole("button", { name: "Add delegate" }).click();
  await page.locator("table.grantees td", { hasText: "newbie@contoso.test" }).waitFor({ timeout: T });
  await page.getByLabel("Access of Newbie Person").selectOption("write");
  await page.locator(".toast", { hasText: "Newbie Person now has read and write access to Grace Owner." }).waitFor({ timeout: T });
  const delegates = async () => (await graph("GET", `/users/${OWNER}/mailboxPermissions`)).body.value.map((m) => [m.emailAddress.address, m.role]);
  assert.deepEqual(await delegates(), [[USER, "read"], ["newbie@contoso.test", "write"]]);
  await scan("delegates");
  await shot("admin-delegates");
  await page.getByRole("button", { name: "Remove Newbie Person" }).click();
  await page.getByRole("button", { name: "Remove", exact: true }).click();
  await page.locator(".toast", { hasText: "Removed Newbie Person from Grace Owner." }).waitFor({ timeout: T });
  await until(async () => (await page.locator("table.grantees caption").textContent()) === "1 delegate of Grace Owner", "one delegate left");
  assert.deepEqual(await delegates(), [[USER, "read"]]);

  step = "apps and an admin's consent";
  await page.locator("#sidebar .nav", { hasText: "Apps" }).click();
  const appItem = (name) => page.locator("#adminlist .item", { hasText: name });
  await appItem("Phone Book").waitFor({ timeout: T });
  assert.equal(await page.locator("#list").isVisible(), false, "the apps take the middle column");
  assert.deepEqual(await page.locator("#adminlist .item .name").allTextContents(), ["Phone Book", "Rolo People"]);
  await appItem("Phone Book").click();
  await page.locator("#detail").getByRole("heading", { name: "Phone Book", exact: true }).waitFor({ timeout: T });
  const phoneBook = (await graph("GET", "/applications")).body.value.find((a) => a.displayName === "Phone Book");
  assert.equal(await page.locator("#detail dd code").textContent(), phoneBook.appId);
  await page.getByLabel("For", { exact: true }).selectOption({ label: "All users" });
  await page.getByLabel("Delegated permissions").fill("Contacts.Read");
  await page.getByRole("button", { name: "Grant consent" }).click();
  await page.locator("table.consents tr", { hasText: "Contacts.Read" }).waitFor({ timeout: T });
  const consents = async () => (await graph("GET", "/oauth2PermissionGrants")).body.value
    .filter((g) => g.clientId === phoneBook.servicePrincipalId).map((g) => [g.consentType, g.scope]);
  assert.deepEqual(await consents(), [["AllPrincipals", "Contacts.Read"]]);
  assert.deepEqual(await page.locator("table.consents tbody tr").locator("td").allTextContents(), ["All users", "Contacts.Read", "Revoke"]);
  await scan("apps");
  await page.getByRole("button", { name: "Revoke Phone Book for All users" }).click();
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.locator(".toast", { hasText: "Revoked Phone Book's consent." }).waitFor({ timeout: T });
  assert.deepEqual(await consents(), []);

  step = "an administrator registers a confidential app (its secret shown once)";
  await page.getByRole("button", { name: "Register an app" }).click();
  await page.locator("#detail").getByRole("heading", { name: "Register an app", exact: true }).waitFor({ timeout: T });
  await page.getByLabel("Name", { exact: true }).fill("Sync Daemon");
  await page.getByLabel("Kind").selectOption("confidential");
  await page.getByLabel(/^Redirect URIs/).fill("http://evil.example/cb");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  await page.locator("#detail .error", { hasText: "is not valid" }).waitFor({ timeout: T });
  await scan("registering an app");
  await page.getByLabel(/^Redirect URIs/).fill("https://sync.example/signin");
  await page.getByLabel(/^Application permissions/).fill("Contacts.Read");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  const appSecret = await page.locator("#secret-text").textContent({ timeout: T });
  assert.match(appSecret, /^\S{40,}$/);
  await page.locator("#detail").getByRole("heading", { name: "Sync Daemon", exact: true }).waitFor({ timeout: T });
  const daemon = (await graph("GET", "/applications")).body.value.find((a) => a.displayName === "Sync Daemon");
  assert.deepEqual([daemon.isFallbackPublicClient, daemon.web.redirectUris, daemon.applicationPermissions], [false, ["https://sync.example/signin"], ["Contacts.Read"]]);
  const tenant = JSON.parse(Buffer.from((await token()).split(".")[1], "base64url")).tid;
  const clientToken = (secret) => fetch(`${ORIGIN}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({
    grant_type: "client_credentials", client_id: daemon.appId, client_secret: secret, scope: "https://graph.microsoft.com/.default" }) });
  assert.equal((await clientToken(appSecret)).status, 200, "the secret shown works for client credentials");
  assert.equal(await appItem("Sync Daemon").getAttribute("aria-current"), "true");
  await scan("a new app and its secret");
  await shot("admin-apps");

  step = "an administrator restricts an app and changes its permissions";
  await page.getByLabel("Application permissions", { exact: true }).fill("Contacts.ReadWrite");
  await page.getByLabel(/^Only these mailboxes/).fill(OWNER);
  await page.getByRole("button", { name: "Save app" }).click();
  await page.locator(".toast", { hasText: "Saved Sync Daemon." }).waitFor({ timeout: T });
  await page.locator("#detail dd", { hasText: OWNER }).waitFor({ timeout: T });
  assert.equal(await page.locator("#secret-text").count(), 0, "the secret is shown only once");
  const changedApp = (await graph("GET", `/applications/${daemon.id}`)).body;
  const owner = (await graph("GET", `/users/${OWNER}`)).body;
  assert.deepEqual([changedApp.applicationPermissions, changedApp.mailboxAccessPolicy], [["Contacts.ReadWrite"], [owner.id]]);

  step = "a new client secret replaces the old one";
  await page.getByRole("button", { name: "New client secret" }).click();
  await page.getByRole("button", { name: "New secret", exact: true }).click();
  await until(async () => (await page.locator("#secret-text").count()) === 1 && (await page.locator("#secret-text").textContent()) !== appSecret, "a new secret");
  const secondSecret = await page.locator("#secret-text").textContent();
  assert.equal((await clientToken(appSecret)).status, 401, "the old secret no longer works");
  assert.equal((await clientToken(secondSecret)).status, 200);

  step = "an administrator registers a public client and deletes an app";
  await page.getByRole("button", { name: "Register an app" }).click();
  await page.locator("#detail").getByRole("heading", { name: "Register an app", exact: true }).waitFor({ timeout: T });
  await page.getByLabel("Name", { exact: true }).fill("Pocket Contacts");
  await page.getByLabel(/^Redirect URIs/).fill("pocket://auth\nhttp://localhost/cb");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  await page.locator("#detail").getByRole("heading", { name: "Pocket Contacts", exact: true }).waitFor({ timeout: T });
  assert.equal(await page.locator("#secret-text").count(), 0, "a public client has no secret");
  assert.equal(await page.getByRole("button", { name: "New client secret" }).count(), 0);
  const pocket = (await graph("GET", "/applications")).body.value.find((a) => a.displayName === "Pocket Contacts");
  assert.deepEqual([pocket.isFallbackPublicClient, pocket.publicClient.redirectUris], [true, ["pocket://auth", "http://localhost/cb"]]);
  await appItem("Sync Daemon").click();
  await page.locator("#detail").getByRole("heading", { name: "Sync Daemon", exact: true }).waitFor({ timeout: T });
  await page.getByRole("button", { name: "Delete app" }).click();
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.locator(".toast", { hasText: "Deleted Sync Daemon." }).waitFor({ timeout: T });
  await appItem("Sync Daemon").waitFor({ state: "detached", timeout: T });
  assert.equal((await graph("GET", `/applications/${daemon.id}`)).status, 404);
  assert.equal((await clientToken(secondSecret)).status, 400, "a deleted app cannot sign in (unauthorized_client)");
  assert.deepEqual(await page.locator("#adminlist .item .name").allTextContents(), ["Phone Book", "Pocket Contacts", "Rolo People"]);
  await page.locator("#sidebar .nav", { hasText: "All contacts" }).click();
  await row("Zelda Quartz").waitFor({ timeout: T });
  assert.equal(await page.locator("#adminlist").isVisible(), false, "the contacts are back in the middle column");

  step = "sign out";
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: T });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("rolo.tokens")), null);

  step = "the new user signs in";
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#login").fill("newbie@contoso.test");
  await page.locator("#passwd").fill("fresh start 1");
  await page.locator("button[value=signin]").click();
  await page.locator("#who", { hasText: "Newbie Person" }).waitFor({ timeout: T });
  await until(async () => (await page.locator("#count").textContent()) === "0 contacts", "an empty contact list");
  for (const screen of ["Users", "Shared mailboxes", "Delegates", "Apps"]) {
    assert.equal(await page.locator("#sidebar .nav", { hasText: screen }).count(), 0, `no ${screen} for a user`);
  }
  assert.equal(await page.locator("#sidebar .nav", { hasText: "App passwords" }).count(), 1, "app passwords for everyone");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: T });

  assert.deepEqual(problems, [], "no errors in the page");
  console.log("ok: every browser scenario passed");
} catch (e) {
  console.error(`FAILED at step "${step}": ${e.stack || e}`);
  if (problems.length) console.error(problems.join("\n"));
  await page.screenshot({ path: `${process.env.TMPDIR || "/tmp"}/rolo-people-failure.png` }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
