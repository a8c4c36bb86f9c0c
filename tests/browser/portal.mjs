// Headless Chromium checks of the public portal, for tests/portal.rs.
// usage: node portal.mjs BASE_URL OUT_DIR PATH...
// For each path at 390x844 (a phone) and 1280x900: a full-page screenshot in OUT_DIR; the page's
// scrollWidth against the viewport (no horizontal overflow); the smallest computed font size of any
// visible text; and axe-core's WCAG 2 A/AA rules. Prints one JSON object; exit 0 (the test judges it).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, out, ...paths] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const results = [];
for (const [name, width, height] of [["phone", 390, 844], ["desktop", 1280, 900]]) {
  // The pages forbid every script (CSP); axe-core is injected by the browser driver only.
  const context = await browser.newContext({ viewport: { width, height }, bypassCSP: true });
  const page = await context.newPage();
  for (const path of paths) {
    const response = await page.goto(base + path, { waitUntil: "load" });
    const file = `${out}/${name}${path.replace(/[^A-Za-z0-9]+/g, "_")}.png`;
    await page.screenshot({ path: file, fullPage: true });
    const layout = await page.evaluate(() => {
      let smallest = Infinity, where = "";
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const n = walker.currentNode;
        if (!n.textContent.trim() || !n.parentElement) continue;
        const el = n.parentElement.closest("svg") ? n.parentElement : n.parentElement;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        let size = parseFloat(getComputedStyle(el).fontSize);
        const svg = el.closest("svg");
        if (svg && svg.viewBox && svg.viewBox.baseVal && svg.viewBox.baseVal.width) {
          size = size * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        }
        if (size < smallest) { smallest = size; where = `${el.tagName.toLowerCase()}: ${n.textContent.trim().slice(0, 40)}`; }
      }
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
               lang: document.documentElement.lang, smallestFontPx: smallest, smallestText: where };
    });
    await page.addScriptTag({ content: axeSource });
    const axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
      return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")) }));
    });
    results.push({ path, viewport: name, width, status: response.status(), screenshot: file, ...layout, axe });
  }
  await context.close();
}
await browser.close();
console.log(JSON.stringify(results));
