// axe-core on a page. The pages' CSP forbids inline scripts, so axe's
// source goes in through DevTools evaluation (not subject to the page's
// CSP); bypassCSP is never used, since the CSP is under test too.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const AXE_VERSION = JSON.parse(fs.readFileSync(require.resolve('axe-core/package.json'), 'utf8')).version;

export const FAILING_IMPACTS = new Set(['serious', 'critical']);
const IMPACTS = ['critical', 'serious', 'moderate', 'minor'];

// runAxe resolves with the violations axe finds on the page as it is now.
export async function runAxe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(`${AXE_SOURCE}\n;void 0`);
  }
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
}

// Report gathers every screen's violations and prints them by impact.
export class Report {
  constructor() {
    this.screens = [];
  }

  add(screen, violations) {
    this.screens.push({ screen, violations });
  }

  failing() {
    return this.screens.flatMap(({ screen, violations }) => violations
      .filter((v) => FAILING_IMPACTS.has(v.impact))
      .map((v) => `${screen}: ${v.impact} ${v.id} (${v.help}) on ${v.nodes.map((n) => n.target).join(', ')}`));
  }

  text() {
    const byId = new Map();
    for (const { screen, violations } of this.screens) {
      for (const v of violations) {
        const e = byId.get(v.id) ?? { id: v.id, impact: v.impact, help: v.help, nodes: 0, screens: [] };
        e.nodes += v.nodes.length;
        e.screens.push(screen);
        byId.set(v.id, e);
      }
    }
    const lines = [`axe-core ${AXE_VERSION}: ${this.screens.length} screens checked: ${this.screens.map((s) => s.screen).join(', ')}`];
    for (const impact of IMPACTS) {
      const list = [...byId.values()].filter((e) => e.impact === impact);
      lines.push(`  ${impact}: ${list.length} rule(s), ${list.reduce((n, e) => n + e.nodes, 0)} node(s)`);
      for (const e of list) {
        lines.push(`    ${e.id} — ${e.help}: ${e.nodes} node(s) on ${e.screens.length} screen(s): ${e.screens.join(', ')}`);
      }
    }
    return lines.join('\n');
  }
}
