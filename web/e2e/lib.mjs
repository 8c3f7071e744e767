// What every scenario uses: the settings of the run, a profile per party, the checks every
// page gets (axe-core, screenshots), and the JSON API for set-up and for what a page cannot
// show. (Apart from run.mjs so a scenario can import it: the runner imports the scenarios.)

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
export const API = args.api ?? process.env.BAEDAL_API;
export const PAYMENT = args.payment ?? process.env.BAEDAL_PAYMENT;
if (!API || !PAYMENT) {
  console.error('usage: node web/e2e/run.mjs --api URL --payment URL [--only NAME] [--shots DIR]');
  process.exit(2);
}
const SHOTS = args.shots ?? null;
if (SHOTS) mkdirSync(SHOTS, { recursive: true });
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const PHONE = { width: 375, height: 812 };
export const DESKTOP = { width: 1280, height: 900 };

/** A failed expectation, with what was seen. */
export function expect(ok, what) {
  if (!ok) throw new Error(`expected: ${what}`);
}

/** Wait until `check()` is truthy (polling), or fail naming `what`. */
export async function until(check, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > end) throw new Error(`expected within ${ms / 1000} s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** The JSON API, for checks the pages cannot show (the payment ledger) and for set-up. */
export async function json(method, url, { token, body, headers } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

/** A dev token (the same call the sign-in page makes). */
export async function token(role, sub, storeId) {
  const r = await json('POST', `${API}/v1/dev/tokens`, { body: { role, sub, ...(storeId ? { store_id: storeId } : {}) } });
  expect(r.status === 201, `a dev token for ${role} ${sub}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.token;
}

let seq = 0;
/** A name no earlier run used (orders and ids are per user). */
export const unique = (prefix) => `${prefix}_${Date.now().toString(36)}${(seq++).toString(36)}`;

export class Run {
  constructor(browser) {
    this.browser = browser;
    this.contexts = [];
    this.problems = [];
    /** Console errors a scenario expects (`allow`), e.g. the 503 of a payment outage. */
    this.allowed = [];
    this.api = API;
    this.payment = PAYMENT;
  }

  /**
   * A browser profile of its own (cookies, storage), signed in as `role`/`sub` by putting the
   * dev token where the sign-in page keeps it; `opts` are Playwright context options
   * (viewport, geolocation, permissions).
   */
  async party(role, sub, storeId, opts = {}) {
    const context = await this.browser.newContext({ viewport: PHONE, locale: 'ko-KR', ...opts });
    this.contexts.push(context);
    if (role) {
      const tok = await token(role, sub, storeId);
      await context.addInitScript((t) => {
        if (!localStorage.getItem('baedal.token')) localStorage.setItem('baedal.token', t);
      }, tok);
      context.baedalToken = tok;
    }
    // Layout shifts the page makes by itself (not within 0.5 s of the user's input): the
    // Cumulative Layout Shift of live events, read by `shifted(page)`.
    await context.addInitScript(() => {
      window.baedalShift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.baedalShift += e.value;
      }).observe({ type: 'layout-shift', buffered: true });
    });
    const page = await context.newPage();
    this.watch(page);
    page.setDefaultTimeout(15_000);
    return page;
  }

  /** Script errors, CSP violations and failed asset loads fail the scenario. */
  watch(page) {
    page.on('pageerror', (e) => this.problems.push(`script error on ${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      const text = m.text();
      if (/Content Security Policy|Refused to/i.test(text)) this.problems.push(`CSP: ${text}`);
      else if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(text)
        && !this.allowed.some((re) => re.test(text))) {
        this.problems.push(`console error on ${page.url()}: ${text}`);
      }
    });
    page.on('response', (r) => {
      if (r.url().includes('/assets/') && r.status() >= 400) this.problems.push(`asset ${r.url()}: ${r.status()}`);
    });
  }

  /** Let console errors matching `pattern` pass (a refusal the scenario provokes on purpose). */
  allow(pattern) {
    this.allowed.push(pattern);
  }

  /** How much `page`'s layout has shifted by itself so far (CLS units; 0.1 is "poor"). */
  async shifted(page) {
    return page.evaluate(() => window.baedalShift);
  }

  /** Open `hash` (e.g. '/customer') on the api's page. */
  async open(page, hash) {
    await page.goto(`${API}/#${hash}`);
    await page.waitForSelector('main:not(:has(> p.loading))');
  }

  /** axe-core in the page: no serious or critical violation. */
  async axe(page, what) {
    await page.evaluate(AXE);
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    expect(result.length === 0, `no serious accessibility violation on ${what}:\n  ${result.join('\n  ')}`);
  }

  /** Screenshots of `page` at phone and desktop width, named `<name>-phone.png` / `-desktop.png`. */
  async shots(page, name) {
    if (!SHOTS) return;
    const size = page.viewportSize();
    for (const [label, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(150);
      await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`), fullPage: true });
    }
    await page.setViewportSize(size);
  }

  /** Both checks every page gets: axe, then the screenshots. */
  async page(page, name) {
    await this.axe(page, name);
    await this.shots(page, name);
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
  }
}

