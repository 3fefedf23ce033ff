// Runs pages in headless Chromium for tests/browser/test_browser.py.
//
//   node driver.mjs < jobs      (one JSON object on the first line of stdin)
//
//   {"chromium": "/usr/bin/chromium", "timeout": 20000,
//    "jobs": [{"name": N, "url": U, "steps": [ {"op": ...}, ... ]}, ...]}
//
// Debian's Chromium (never a browser downloaded by Playwright), a fresh profile in a
// temporary --user-data-dir, every job in its own page, "concurrency" (default 3) at
// a time.  Steps:
//   {"op":"wait", "js": EXPR, "timeout": MS}       until EXPR is truthy in the page
//   {"op":"eval", "js": EXPR, "as": KEY}           values[KEY] = EXPR (JSON-able)
//   {"op":"fill", "sel": CSS, "text": T}           type T into the element
//   {"op":"click", "sel": CSS}
//   {"op":"waitText", "sel": CSS, "text": T, "timeout": MS}   until an element matching
//                                                             CSS has exactly the text T
// Output: one JSON line per job, {"name", "ok", "values", "error", "console"}, then
// {"done": true}.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { chromium } from "playwright-core";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function firstLine() {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new Error("no input");
}

async function runJob(context, job, timeout) {
  const page = await context.newPage();
  const consoleLines = [];
  page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err.message}`));
  page.on("requestfailed", (req) => consoleLines.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`));
  const values = {};
  try {
    // "domcontentloaded": a JSONP long-poll (a script element) holds back "load"
    await page.goto(job.url, { timeout, waitUntil: "domcontentloaded" });
    for (const step of job.steps) {
      const t = step.timeout ?? timeout;
      switch (step.op) {
        case "wait":
          await page.waitForFunction(step.js, null, { timeout: t });
          break;
        case "eval":
          values[step.as] = await page.evaluate(step.js);
          break;
        case "fill":
          await page.fill(step.sel, step.text, { timeout: t });
          break;
        case "click":
          await page.click(step.sel, { timeout: t });
          break;
        case "waitText":
          await page.waitForFunction(
            ([sel, text]) => [...document.querySelectorAll(sel)].some((e) => e.textContent === text),
            [step.sel, step.text],
            { timeout: t },
          );
          break;
        default:
          throw new Error(`unknown op ${step.op}`);
      }
    }
    return { name: job.name, ok: true, values, console: consoleLines };
  } catch (err) {
    let html = null;
    try {
      html = await page.evaluate(() => document.body.innerText.slice(0, 2000));
    } catch {}
    return { name: job.name, ok: false, values, error: String(err.message ?? err), page: html, console: consoleLines };
  } finally {
    await page.close().catch(() => {});
  }
}

const input = JSON.parse(await firstLine());
const timeout = input.timeout ?? 20000;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fastsio-chromium-"));
const overall = setTimeout(() => {
  process.stdout.write(JSON.stringify({ fatal: "driver timed out" }) + "\n");
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(2);
}, timeout + 10000);
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: input.chromium ?? "/usr/bin/chromium",
    headless: true,
    args: ARGS,
  });
  // A few pages at a time: Chromium opens at most 6 HTTP/1.1 connections per host, and a
  // long-polling page holds one with its pending GET; more pages would starve each other's
  // POSTs (until a poll ends: 25 s).
  const results = [];
  const queue = input.jobs.slice();
  const workers = Array.from({ length: input.concurrency ?? 3 }, async () => {
    while (queue.length) {
      const job = queue.shift();
      results.push(await runJob(context, job, timeout));
    }
  });
  await Promise.all(workers);
  for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
  process.stdout.write(JSON.stringify({ done: true }) + "\n");
} catch (err) {
  process.stdout.write(JSON.stringify({ fatal: String(err.stack ?? err) }) + "\n");
} finally {
  clearTimeout(overall);
  if (context) await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
