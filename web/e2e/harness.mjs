// What the end-to-end scripts of the desktop share around their scenarios: a scenario records
// whether it passed and the run goes on after a failure; screenshots are numbered in the order
// they are taken; axe checks an agent's page; the run ends with a summary and an exit status.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OUT } from './server.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * The harness of one script, whose files in `OUT` start with `prefix`. `shotLabel` names the
 * agent in a screenshot's file name (by default the agent's name).
 */
export function harness(prefix, { shotLabel = (agent) => agent.who } = {}) {
  const results = [];
  const axeResults = [];
  let shot = 0;

  /** Runs one named scenario; a failure is recorded and printed, and the run goes on. */
  async function scenario(name, fn) {
    const started = Date.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: Date.now() - started });
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      results.push({ name, ok: false, error: String(e) });
      console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').slice(0, 8).join('\n     ')}`);
    }
  }

  /** A full-page screenshot of the agent's page, `prefix-NN-label-name.png`. */
  async function screenshot(agent, name) {
    shot += 1;
    const file = `${prefix}-${String(shot).padStart(2, '0')}-${shotLabel(agent)}-${name}.png`;
    await agent.page.screenshot({ path: join(OUT, file), fullPage: true });
  }

  /** No serious or critical axe violation on the agent's page now. */
  async function axe(agent, what) {
    const page = agent.page;
    // Colours mid-transition (a button just enabled) are not what the agent reads.
    await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'), null, { timeout: 3000 }).catch(() => {});
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const violations = result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
    }));
    axeResults.push({ who: agent.who, what, violations });
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    if (bad.length) throw new Error(`axe (${agent.who}: ${what}): ${JSON.stringify(bad, null, 1)}`);
  }

  /**
   * Runs `main`, counts a throw from it as a failed "setup", prints where the files are
   * (`what`: "screenshots and measurements" by default) and the summary, and exits 1 when
   * anything failed.
   */
  async function finish(main, what = 'screenshots and measurements') {
    const t0 = Date.now();
    try {
      await main();
    } catch (e) {
      results.push({ name: 'setup', ok: false, error: String(e) });
      console.log(`FAIL setup: ${e?.stack ?? e}`);
    }
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    console.log(`\n${what}: ${OUT} (${prefix}-*, ${prefix}.json) (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  }

  return { results, axeResults, scenario, screenshot, axe, finish };
}
