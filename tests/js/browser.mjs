// Drives `tollgate serve`'s demo page in headless Chromium (Debian `chromium`, never a
// downloaded browser), for transport-tokio/tests/serve_browser.rs.
//
//   node browser.mjs BASE_URL OUT_DIR      (BASE_URL: http://127.0.0.1:PORT of a dev-mode serve)
//
// The server must run in development mode with short login tokens and no leeway
// (`--login-token-secs 6 --leeway 0`) so that in-band refresh and expiry show within seconds.
// Scenarios, in order, each printing `ok <name>`:
//   chat     alice (admin, token in ?token=) and bob (user, token as subprotocol) log in from
//            two browser contexts, see each other online and each other's messages
//   refresh  both stay connected past their first token's expiry (the page refreshed in-band)
//   kick     alice kicks bob: bob's page shows "kicked", alice's online list loses bob
//   expired  a login token past its expiry, given as /?token=…, is refused: "token expired"
//   invalid  the page's "bad token" button is refused: "invalid token"
// On failure: OUT_DIR/<scenario>-<page>.png and .txt (status, log, online list, console) for
// every open page, their paths on stderr, exit 1.
// Env: TOLLGATE_CHROMIUM (default /usr/bin/chromium).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node browser.mjs BASE_URL OUT_DIR");
  process.exit(2);
}
const executablePath = process.env.TOLLGATE_CHROMIUM || "/usr/bin/chromium";
// DESIGN §7's flags. Playwright adds --user-data-dir itself, a fresh temporary directory
// per launch (removed on close), and refuses the flag in `args`.
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const WAIT_MS = 10_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Open pages by name, with what their console said, for the failure report. */
const pages = new Map();

async function openPage(browser, name, path = "/") {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  pages.set(name, { page, consoleLines });
  await page.goto(base + path, { timeout: WAIT_MS });
  return page;
}

/** Waits until the element's text contains `text`. */
async function waitText(page, selector, text) {
  try {
    await page.waitForFunction(
      ([sel, t]) => (document.querySelector(sel)?.textContent ?? "").includes(t),
      [selector, text],
      { timeout: WAIT_MS },
    );
  } catch {
    const seen = await page.locator(selector).textContent().catch(() => "?");
    throw new Error(`${selector} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(seen)}`);
  }
}

async function waitNoText(page, selector, text) {
  await page.waitForFunction(
    ([sel, t]) => !(document.querySelector(sel)?.textContent ?? "").includes(t),
    [selector, text],
    { timeout: WAIT_MS },
  );
}

async function login(page, username, role, via) {
  await page.fill("#username", username);
  await page.selectOption("#role", role);
  await page.selectOption("#via", via);
  await page.click("#connect");
  await waitText(page, "#status", `connected as ${username}`);
  await waitText(page, "#log", `connected via ${via}`);
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
}

/** A login token straight from POST /login, as the page would get it. */
async function mintLoginToken(username) {
  const res = await fetch(base + "/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, role: "user" }),
  });
  if (!res.ok) throw new Error(`POST /login: HTTP ${res.status}`);
  return res.json();
}

async function report(scenario) {
  mkdirSync(outDir, { recursive: true });
  for (const [name, { page, consoleLines }] of pages) {
    const stem = join(outDir, `${scenario}-${name}`);
    await page.screenshot({ path: `${stem}.png`, fullPage: true }).catch(() => {});
    const field = (sel) => page.locator(sel).innerText({ timeout: 1000 }).catch(() => "?");
    const text = [
      `url: ${page.url()}`,
      `status: ${await field("#status")}`,
      `online: ${await field("#online")}`,
      "log:",
      await field("#log"),
      "console:",
      ...consoleLines,
    ].join("\n");
    writeFileSync(`${stem}.txt`, text + "\n");
    console.error(`browser test: wrote ${stem}.png and ${stem}.txt`);
  }
}

const scenarios = [
  ["chat", async (browser, state) => {
    const alice = await openPage(browser, "alice");
    const bob = await openPage(browser, "bob");
    await login(alice, "alice", "admin", "query");
    await login(bob, "bob", "user", "subprotocol");
    state.connectedAt = Date.now();
    for (const page of [alice, bob]) {
      await waitText(page, "#online", "alice");
      await waitText(page, "#online", "bob");
    }
    await say(alice, "hello from alice");
    await waitText(bob, "#log", "alice: hello from alice");
    await say(bob, "hi alice, bob here");
    await waitText(alice, "#log", "bob: hi alice, bob here");
    Object.assign(state, { alice, bob });
  }],
  ["refresh", async (_browser, { alice, bob, connectedAt, lifetime }) => {
    // Past the first tokens' expiry (whole seconds, no leeway) with a second to spare.
    await sleep(Math.max(0, connectedAt + (lifetime + 2) * 1000 - Date.now()));
    for (const [page, name] of [[alice, "alice"], [bob, "bob"]]) {
      await waitText(page, "#log", "token refreshed");
      await waitText(page, "#status", `connected as ${name}`);
    }
    await say(bob, "still here after expiry");
    await waitText(alice, "#log", "bob: still here after expiry");
  }],
  ["kick", async (_browser, { alice, bob }) => {
    await alice.click('#online li:has-text("bob") button');
    await waitText(bob, "#status", "kicked");
    await waitText(bob, "#log", "code 1008");
    await waitNoText(alice, "#online", "bob");
    await waitText(alice, "#status", "connected as alice");
  }],
  ["expired", async (browser, { expiring }) => {
    await sleep(Math.max(0, expiring.mintedAt + (expiring.expires_in + 2) * 1000 - Date.now()));
    const page = await openPage(browser, "expired", "/?token=" + encodeURIComponent(expiring.token));
    await waitText(page, "#status", "token expired");
    await waitText(page, "#log", "code 1008");
  }],
  ["invalid", async (browser) => {
    const page = await openPage(browser, "invalid");
    await page.selectOption("#via", "subprotocol");
    await page.click("#bad");
    await waitText(page, "#status", "invalid token");
  }],
];

const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS, timeout: WAIT_MS });
let failed = false;
try {
  // Minted first, so it has expired by the time its scenario runs.
  const { token, expires_in } = await mintLoginToken("latecomer");
  const state = { lifetime: expires_in, expiring: { token, expires_in, mintedAt: Date.now() } };
  for (const [name, run] of scenarios) {
    const started = Date.now();
    try {
      await run(browser, state);
      const errors = [...pages.values()].flatMap((p) => p.consoleLines.filter((l) => l.startsWith("pageerror")));
      if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    } catch (error) {
      console.error(`FAILED ${name}: ${error.message}`);
      await report(name);
      failed = true;
      break;
    }
    console.log(`ok ${name} (${Date.now() - started} ms)`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
