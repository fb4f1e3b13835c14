// SPDX-License-Identifier: MIT
// page.test.mjs -- the dashboard in a real browser (Debian's chromium, driven by playwright-core).
//
// usage: node page.test.mjs URL SCREENSHOT_DIR MODIFIED_JSON
//   MODIFIED_JSON: {"table": "users", "key": "channel_id", "id": "...", "column": "channel_name",
//                   "modified": "...", "original": "...", "token": "..."}, a row the caller changed in the
//                   database; with "token", the server wants that API token for a reset; with
//                   "auth_all" too, for every request (the page must ask for it before it shows anything).
// Prints one JSON object {"ok", "checks": [...], "console_errors": [...]} and exits 0 only when all passed.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, shots, modifiedJson, prefix = "page"] = process.argv.slice(2);
const modified = JSON.parse(modifiedJson || "{}");
const checks = [];
const consoleErrors = [];
let failed = false;

function check(name, ok, detail = "") {
  checks.push({ name, ok: !!ok, detail: String(detail).slice(0, 2000) });
  if (!ok) failed = true;
}

async function step(name, fn) {
  try {
    const detail = await fn();
    check(name, true, detail ?? "");
  } catch (e) {
    check(name, false, e && e.stack ? e.stack : e);
  }
}

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "pgseed-chromium-"));
// A new, empty profile each run (playwright passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1360, height: 1000 },
  colorScheme: "light",
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));
  // Everything the page loads must come from pgseedd itself.
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  // Failed loads: only the one this test provokes on purpose (an unknown table) may fail.
  const failures = [];
  page.on("response", (r) => { if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`); });

  let response;
  await step("page loads as HTML with a strict CSP", async () => {
    response = await page.goto(url + "/", { waitUntil: "load" });
    const h = response.headers();
    if (response.status() !== 200) throw new Error("status " + response.status());
    if (!h["content-type"].startsWith("text/html")) throw new Error("content-type " + h["content-type"]);
    const csp = h["content-security-policy"] || "";
    for (const want of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"])
      if (!csp.includes(want)) throw new Error("CSP lacks " + want + ": " + csp);
    if (h["x-content-type-options"] !== "nosniff") throw new Error("no nosniff");
    if (h["x-frame-options"] !== "DENY") throw new Error("no X-Frame-Options DENY");
    return csp;
  });

  if (modified.auth_all) {
    await step("asks for the token before it shows anything (auth = all)", async () => {
      await page.waitForSelector("#signin:not([hidden])", { timeout: 10000 });
      const said = await page.textContent("#signin-error");
      if (!said.startsWith("unauthorized: ")) throw new Error("the sign-in bar says " + said);
      await page.screenshot({ path: join(shots, `${prefix}-signin.png`) });
      await page.fill("#signin-token", modified.token);
      await page.click("#signin-go");
      await page.waitForSelector("#signin", { state: "hidden", timeout: 10000 });
      return said;
    });
  }

  await step("status shows ready", async () => {
    await page.waitForFunction(() => document.getElementById("state").textContent === "ready", null, { timeout: 20000 });
    return await page.textContent("#reason");
  });

  const auth = modified.token ? { Authorization: "Bearer " + modified.token } : {};
  const health = await (await fetch(url + "/health", { headers: auth })).json();
  await step("the three tables with their counts", async () => {
    await page.waitForSelector("#tables tbody tr[data-table='comments']", { timeout: 10000 });
    const rows = await page.$$eval("#tables tbody tr", (trs) => trs.map((tr) => [tr.dataset.table, tr.children[1].textContent]));
    const got = Object.fromEntries(rows);
    for (const t of ["videos", "users", "comments"]) {
      const want = health.tables.find((x) => x.name === t).rows.toLocaleString("en-US");
      if (got[t] !== want) throw new Error(`${t}: page says ${got[t]}, /health says ${want}`);
    }
    return JSON.stringify(got);
  });

  await step("CDC facts", async () => {
    const wal = await page.textContent("#cdc-wal");
    if (wal.trim() !== health.cdc.wal_level) throw new Error("wal_level " + wal);
    const pub = await page.textContent("#cdc-pub");
    if (!pub.includes(health.cdc.publication.name)) throw new Error("publication " + pub);
    return `${wal} / ${pub}`;
  });

  await step("schema browser lists columns, keys, indexes, triggers", async () => {
    await page.waitForSelector("#schema-table option[value='comments']", { state: "attached", timeout: 10000 });
    await page.selectOption("#schema-table", "comments");
    const text = await page.textContent("#schema");
    for (const want of ["comment_id", "Foreign keys", "Indexes", "Triggers", "comments_set_updated_at", "PK"])
      if (!text.includes(want)) throw new Error("schema lacks " + want);
    return text.slice(0, 120);
  });

  const firstCell = () => page.$eval("#sample tbody tr:first-child td:first-child", (td) => td.textContent);
  await step("sample browser pages through /sample", async () => {
    await page.selectOption("#sample-table", "comments");
    await page.waitForFunction(() => document.querySelectorAll("#sample tbody tr").length === 25, null, { timeout: 10000 });
    const p1 = await firstCell();
    const label1 = await page.textContent("#sample-page");
    await page.click("#sample-next");
    await page.waitForFunction((l) => document.getElementById("sample-page").textContent !== l, label1);
    const p2 = await firstCell();
    const label2 = await page.textContent("#sample-page");
    if (!label2.startsWith("26")) throw new Error("page 2 label " + label2);
    if (p1 === p2) throw new Error("page 2 shows the same first row " + p1);
    await page.click("#sample-prev");
    await page.waitForFunction((l) => document.getElementById("sample-page").textContent !== l, label2);
    if ((await firstCell()) !== p1) throw new Error("back on page 1, first row differs");
    return `${label1} -> ${label2}`;
  });

  await step("sample browser sorts by a column", async () => {
    const before = await firstCell();
    await page.click("#sample thead th[data-column='comment_id']");
    await page.waitForSelector("#sample thead th[data-column='comment_id'] .arrow", { timeout: 5000 });
    await page.waitForFunction(() => document.querySelector("#sample thead th[data-column='comment_id'] .arrow").textContent === "▼");
    const after = await firstCell();
    if (after === before) throw new Error("descending order shows the same first row");
    if (!(after > before)) throw new Error(`descending first ${after} is not after ascending first ${before}`);
    return `${before} / ${after}`;
  });

  await step("server log is shown", async () => {
    await page.waitForFunction(() => document.querySelectorAll("#logs div").length > 0, null, { timeout: 10000 });
    return await page.$eval("#logs div:last-child", (d) => d.textContent.slice(0, 100));
  });

  if (modified.table) {
    await step("the modified row is visible before the reset", async () => {
      await page.selectOption("#sample-table", modified.table);
      await page.waitForFunction((m) => document.querySelector("#sample tbody").textContent.includes(m), modified.modified, { timeout: 10000 });
    });
    await step("a reset from the button (with confirmation) brings the row back", async () => {
      await page.click("#reset-btn");
      await page.waitForSelector("#reset-dialog[open]");
      await page.screenshot({ path: join(shots, `${prefix}-reset-dialog.png`) });
      await page.click("#reset-confirm");
      if (modified.token && !modified.auth_all) {
        // The server wants a token: the 401 is shown as the API words it and the dialog asks for one.
        await page.waitForSelector("#token-row:not([hidden])", { timeout: 30000 });
        const said = await page.textContent("#reset-error");
        if (!said.startsWith("unauthorized: ")) throw new Error("the dialog says " + said);
        await page.fill("#token", modified.token);
        await page.click("#reset-confirm");
      }
      await page.waitForFunction(() => !document.getElementById("reset-dialog").open, null, { timeout: 60000 });
      await page.waitForFunction(() => !document.getElementById("toast").hidden && document.getElementById("toast").textContent.startsWith("Reset done"));
      await page.waitForFunction((m) => !document.querySelector("#sample tbody").textContent.includes(m.modified)
                                      && document.querySelector("#sample tbody").textContent.includes(m.original), modified, { timeout: 20000 })
        .catch(async (e) => {
          throw new Error(`${e.message}; rows shown: ${(await page.textContent("#sample tbody")).slice(0, 200)}`);
        });
      return await page.textContent("#toast");
    });
  }

  await step("API errors are shown as the API words them", async () => {
    const r = await page.evaluate(async (h) => (await fetch("/sample?table=no_such_table", { headers: h })).json(), auth);
    await page.evaluate(() => {
      document.getElementById("sample-table").append(new Option("no_such_table", "no_such_table"));
    });
    await page.selectOption("#sample-table", "no_such_table");
    await page.waitForSelector("#error-banner:not([hidden])", { timeout: 5000 });
    const shown = await page.textContent("#error-message");
    if (shown !== r.error.message) throw new Error(`banner "${shown}" vs API "${r.error.message}"`);
    await page.click("#error-close");
    return shown;
  });

  await page.selectOption("#sample-table", "comments");
  await page.waitForFunction(() => document.querySelectorAll("#sample tbody tr").length === 25);
  await page.screenshot({ path: join(shots, `${prefix}.png`), fullPage: true });

  await step("works in a narrow window (no horizontal page scroll)", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    await page.screenshot({ path: join(shots, `${prefix}-narrow.png`), fullPage: true });
    if (sw > w) throw new Error(`page is ${sw}px wide in a ${w}px window`);
    return `${sw} <= ${w}`;
  });

  await step("refreshes itself", async () => {
    const t = await page.textContent("#refreshed");
    await page.waitForFunction((x) => document.getElementById("refreshed").textContent !== x, t, { timeout: 10000 });
  });

  // Chrome logs every non-2xx load as a console error: those provoked (or documented) are expected, nothing else.
  // /health answers 503 while the reset runs (the documented "not ready" answer the page renders).
  // With a token configured, the first reset's 401 is what makes the dialog ask for it.
  const provoked = failures.filter((f) => (f.startsWith("404 ") && f.includes("table=no_such_table")) ||
                                          (f.startsWith("503 ") && f.endsWith("/health")) ||
                                          (modified.token && f.startsWith("401 ") && f.includes("/reset")) ||
                                          (modified.auth_all && f.startsWith("401 ") && f.endsWith("/health")));
  const loadErrors = consoleErrors.filter((m) => m.startsWith("Failed to load resource"));
  const unexpected = consoleErrors.filter((m) => !m.startsWith("Failed to load resource"));
  check("no console errors", unexpected.length === 0 && loadErrors.length <= provoked.length,
        consoleErrors.join("\n"));
  check("no failed loads", failures.length === provoked.length, failures.join("\n"));
  check("same-origin only", foreign.length === 0, foreign.join("\n"));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ ok: !failed, checks, console_errors: consoleErrors }) + "\n");
process.exit(failed ? 1 : 0);
