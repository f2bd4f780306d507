// Rolo People's list at scale: signs in as a user with ROLO_CONTACTS contacts (50,000, seeded
// by crates/rolo/tests/e2e/webapp.rs through the bulk import), waits for the mailbox-wide delta
// to load them all, then scrolls from top to bottom and jumps to every letter, checking at each
// stop that the page holds a bounded number of row elements and that they are the right ones.
// Prints the figures (load time, rows held, time from a scroll to its second frame); timings
// are reported, not asserted: they depend on the machine's load.
//   ROLO_ORIGIN, ROLO_USER, ROLO_PASSWORD, ROLO_CONTACTS, CHROMIUM (default /usr/bin/chromium)

import { chromium } from "playwright-core";
import { existsSync } from "node:fs";
import assert from "node:assert/strict";

const { ROLO_ORIGIN: ORIGIN, ROLO_USER: USER, ROLO_PASSWORD: PASSWORD } = process.env;
const N = Number(process.env.ROLO_CONTACTS);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(ORIGIN && USER && PASSWORD && N > 0, "ROLO_ORIGIN, ROLO_USER, ROLO_PASSWORD and ROLO_CONTACTS must be set");
if (!existsSync(CHROMIUM)) {
  console.error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
  process.exit(2);
}
const ROW = 52;
// 800 px of list shows about 14 rows; list.js draws 8 more above and below.
const MAX_ROWS = 40;
const STEPS = 120;

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" })).newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
let step = "sign in";

async function until(check, what, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Moves the list (to `y`, or by pressing a jump button) and reports the rows held once the
 * second frame after it is drawn. */
const settle = (y, jump) => page.evaluate(async ([y, jump]) => {
  const list = document.querySelector("#list");
  const t0 = performance.now();
  if (jump) document.querySelector(`#alphabet button[aria-label="${jump}"]`).click();
  else list.scrollTop = y;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const ms = performance.now() - t0;
  const rows = [...list.querySelectorAll(".row")].map((el) => ({ pos: Number(el.getAttribute("aria-posinset")), name: el.querySelector(".name").textContent }));
  return { ms, top: list.scrollTop, height: list.clientHeight, rows };
}, [y, jump]);

function check(at, where) {
  assert.ok(at.rows.length <= MAX_ROWS, `${where}: ${at.rows.length} row elements (at most ${MAX_ROWS})`);
  const first = Math.floor(at.top / ROW) + 1;
  const last = Math.min(N, Math.floor((at.top + at.height - 1) / ROW) + 1);
  const held = new Set(at.rows.map((r) => r.pos));
  for (let p = first; p <= last; p++) assert.ok(held.has(p), `${where}: row ${p} in view is drawn`);
  return at.rows.find((r) => r.pos === first);
}

try {
  await page.goto(`${ORIGIN}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#login").fill(USER);
  await page.locator("#passwd").fill(PASSWORD);
  const signedIn = Date.now();
  await page.locator("button[value=signin]").click();

  step = `load ${N} contacts`;
  const want = `${new Intl.NumberFormat("en-GB").format(N)} contacts`;
  await until(async () => (await page.locator("#count").textContent()) === want, want, 240_000);
  const loadMs = Date.now() - signedIn;

  step = "scroll from top to bottom";
  const { scrollHeight, clientHeight } = await page.evaluate(() => {
    const l = document.querySelector("#list");
    return { scrollHeight: l.scrollHeight, clientHeight: l.clientHeight };
  });
  assert.equal(scrollHeight, N * ROW, "the spacer gives every contact its height");
  const times = [];
  let maxRows = 0;
  for (let i = 0; i <= STEPS; i++) {
    const at = await settle(Math.round((i / STEPS) * (scrollHeight - clientHeight)));
    check(at, `scrolled to ${at.top}px`);
    times.push(at.ms);
    maxRows = Math.max(maxRows, at.rows.length);
  }
  const bottom = await settle(scrollHeight);
  check(bottom, "the bottom");
  assert.ok(bottom.rows.some((r) => r.pos === N), "the last contact is drawn at the bottom");

  step = "jump to every letter";
  for (const l of "ABCDEFGHIJKLMNOPQRSTUVWXYZ#") {
    const label = `Jump to ${l === "#" ? "numbers and symbols" : l}`;
    const at = await settle(0, label);
    const top = check(at, label);
    const initial = top.name.normalize("NFD")[0].toUpperCase();
    assert.ok(l === "#" ? /[0-9]/.test(initial) : initial === l, `${label}: the top row is ${top.name}`);
    times.push(at.ms);
    maxRows = Math.max(maxRows, at.rows.length);
  }
  assert.deepEqual(problems, [], "no errors in the page");
  times.sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
  console.log(`ok: ${N} contacts loaded in ${(loadMs / 1000).toFixed(1)} s after sign-in; at most ${maxRows} row elements over ${STEPS + 1} scroll stops and 27 jumps; scroll or jump to the second frame: median ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms`);
} catch (e) {
  console.error(`FAILED at step "${step}": ${e.stack || e}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
