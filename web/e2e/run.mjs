// The front end's end-to-end tests: headless Debian Chromium (playwright-core, never a
// downloaded browser) against a running baedal, each party in its own browser profile.
//
//   node web/e2e/run.mjs --api URL --payment URL [--only NAME] [--shots DIR]
//
// Run by `cargo test` (cli/tests/web), which starts baedal first. Every scenario in
// ./scenarios runs in turn; each page a scenario opens is checked by axe-core (no serious or
// critical violation), and any script error or Content-Security-Policy violation fails it.
// Screenshots of each page at phone and desktop width go to --shots (docs/screenshots).

import { chromium } from 'playwright-core';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Run, args } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let failed = 0;
const files = readdirSync(join(here, 'scenarios')).filter((f) => f.endsWith('.mjs')).sort();
for (const file of files) {
  const name = file.replace(/\.mjs$/, '');
  if (args.only && !name.includes(args.only)) continue;
  const scenario = await import(join(here, 'scenarios', file));
  const run = new Run(browser);
  const started = Date.now();
  try {
    await scenario.run(run);
    if (run.problems.length) throw new Error(run.problems.join('\n'));
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
    if (run.problems.length) console.log(`     also: ${run.problems.join('\n     ')}`);
  } finally {
    await run.close();
  }
}
await browser.close();
process.exit(failed ? 1 : 0);
