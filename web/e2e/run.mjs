// End-to-end: the real switchboard server (target/debug/switchboard, built beforehand) and Debian's
// Chromium driven by playwright-core, with two or more agents in separate browser contexts.
// Prints "N passed, N failed" and exits non-zero on any failure. Screenshots and axe results go to
// test-results/e2e/ at the repository root.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { keyboardOnlyInternalCall } from './keyboard.mjs';
import { BIN, CHROMIUM, OUT, blockForeign, startServer } from './server.mjs';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const WAIT = 15_000;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// ---- the server ---------------------------------------------------------------------------

let server;
/** The REST API with the account's credentials (`base` is the server's, kept for keyboard.mjs). */
function rest(_base, method, path, body) {
  return server.rest(method, path, body);
}

// ---- the browser --------------------------------------------------------------------------

const foreign = [];
const axeResults = [];

async function newPage(browser, base) {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 860 } });
  await blockForeign(context, base, foreign);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  return { context, page, errors };
}

async function agent(browser, base, fullName) {
  const { context, page, errors } = await newPage(browser, base);
  await page.getByRole('button', { name: new RegExp(`Sign in as ${fullName}`) }).click();
  await page.getByText(`Signed in as ${fullName}`).waitFor({ timeout: WAIT });
  await page.getByRole('heading', { name: 'Dialpad' }).waitFor({ timeout: WAIT });
  return { context, page, errors, name: fullName };
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  await page.screenshot({ path: join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function axe(page, what) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  axeResults.push({ what, violations });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`axe (${what}): ${JSON.stringify(bad, null, 1)}`);
}

const visible = (locator) => locator.first().waitFor({ state: 'visible', timeout: WAIT });
const gone = (locator) => locator.first().waitFor({ state: 'hidden', timeout: WAIT });

async function pickFromCombobox(page, label, text, option) {
  const input = page.getByLabel(label, { exact: true }).and(page.locator('input'));
  await input.click();
  await input.pressSequentially(text, { delay: 40 });
  const opt = page.getByRole('option', { name: option });
  await visible(opt);
  await opt.first().click();
}

async function callButton(page) {
  const button = page.getByRole('tabpanel').getByRole('button', { name: 'Call', exact: true });
  await button.waitFor({ state: 'visible', timeout: WAIT });
  return button;
}

function task(page, name) {
  return page.locator('li').filter({ has: page.getByRole('heading', { name, exact: true }) });
}

// Completes every task, waiting for Complete to appear (a hung-up call reaches wrap-up a moment
// later, pushed by the server) until the list says there are none.
async function completeAll(page) {
  const empty = page.getByText(/No tasks/);
  const btn = page.getByRole('button', { name: 'Complete', exact: true });
  for (const t0 = Date.now(); Date.now() - t0 < WAIT; ) {
    if (await empty.isVisible()) return;
    if ((await btn.count()) > 0) {
      await btn.first().click().catch(() => {}); // it may go away as it is clicked
      await page.waitForTimeout(200);
    } else {
      await page.waitForTimeout(100);
    }
  }
  await visible(empty);
}

// ---- scenarios ----------------------------------------------------------------------------

const results = [];
// E2E_ONLY=<regex>: run only the scenarios whose names match (the others are skipped, not counted).
const ONLY = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY, 'i') : null;
async function scenario(name, fn) {
  if (ONLY && !ONLY.test(name)) {
    console.log(`skip ${name}`);
    return;
  }
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').slice(0, 8).join('\n     ')}`);
  }
}

async function main() {
  server = await startServer(BIN);
  const base = server.url;
  console.log(`server at ${base}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Calls ask for the microphone (a fake one here: Chromium's own beep); audio itself is
    // e2e/audio.mjs's to test.
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-quic', '--disable-background-networking', '--disable-component-update',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
    ],
  });
  try {
    const demo = await (await fetch(`${base}/demo/agents`)).json();
    const sidOf = (friendly) => demo.agents.find((a) => a.friendly_name === friendly).sid;
    const ws = server.workspace ?? demo.workspace_sid;
    const activities = (await rest(base, 'GET', `/v1/Workspaces/${ws}/Activities`)).activities;
    const offline = activities.find((a) => a.friendly_name === 'Offline').sid;

    let alice;
    let bob;

    await scenario('sign in two agents; the desktop passes axe', async () => {
      alice = await agent(browser, base, 'Alice Anders');
      bob = await agent(browser, base, 'Bob Brown');
      await visible(alice.page.getByRole('tab', { name: 'Call Agent' }));
      await screenshot(alice.page, 'alice-signed-in');
      await axe(alice.page, 'signed-in desktop');
      await axe(alice.page, 'dialpad, Call Agent tab open');
    });

    await scenario('A finds B by part of the name and calls; B accepts; B hangs up; both wrap up and complete', async () => {
      const a = alice.page;
      const b = bob.page;
      await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
      await screenshot(a, 'alice-picked-bob');
      await (await callButton(a)).click();
      await visible(task(a, 'Bob Brown'));
      await visible(task(a, 'Bob Brown').getByText(/Ringing…|Dialing…/));
      await screenshot(a, 'alice-calling-bob');

      const incoming = b.getByRole('group', { name: 'Alice Anders is calling' });
      await visible(incoming);
      await screenshot(b, 'bob-incoming-from-alice');
      await axe(b, 'incoming call');
      await incoming.getByRole('button', { name: 'Accept' }).click();

      await visible(task(a, 'Bob Brown').getByText('Live', { exact: true }));
      await visible(task(b, 'Alice Anders').getByText('Live', { exact: true }));
      await visible(a.getByRole('timer'));
      await visible(b.getByRole('button', { name: 'Mute', exact: true }));
      await b.waitForTimeout(1100);
      await screenshot(a, 'alice-connected');
      await screenshot(b, 'bob-connected');

      // Mute and hold are reflected from the pushed state.
      await b.getByRole('button', { name: 'Mute', exact: true }).click();
      await visible(b.getByRole('button', { name: 'Unmute', exact: true }));
      await b.getByRole('button', { name: 'Unmute', exact: true }).click();
      await visible(b.getByRole('button', { name: 'Mute', exact: true }));

      await b.getByRole('button', { name: 'Hang up' }).click();
      await visible(a.getByRole('button', { name: 'Complete' }));
      await visible(b.getByRole('button', { name: 'Complete' }));
      await visible(a.getByText('The call has ended.'));
      await screenshot(a, 'alice-wrap-up');
      await screenshot(b, 'bob-wrap-up');
      await completeAll(a);
      await completeAll(b);
      await screenshot(a, 'alice-completed');
    });

    await scenario('A calls the Support queue and a Support agent answers', async () => {
      // Only Bob is available in Support: the other Support members go offline.
      for (const f of ['carol', 'eva', 'zoe']) {
        await rest(base, 'POST', `/v1/Workspaces/${ws}/Workers/${sidOf(f)}`, new URLSearchParams({ ActivitySid: offline }));
      }
      const a = alice.page;
      const b = bob.page;
      await a.getByRole('tab', { name: 'Call Queue' }).click();
      await visible(a.getByLabel('Select a queue', { exact: true }).and(a.locator('input')));
      await axe(a, 'dialpad, Call Queue tab open');
      await pickFromCombobox(a, 'Select a queue', 'sup', 'Support');
      await screenshot(a, 'alice-picked-support');
      await (await callButton(a)).click();
      await visible(task(a, 'Support'));

      const incoming = b.getByRole('group', { name: 'Alice Anders is calling' });
      await visible(incoming);
      await visible(incoming.getByText('Queue: Support'));
      await screenshot(b, 'bob-incoming-support-call');
      await incoming.getByRole('button', { name: 'Accept' }).click();
      await visible(task(a, 'Support').getByText('Live', { exact: true }));
      await visible(task(b, 'Alice Anders').getByText('Live', { exact: true }));
      await screenshot(a, 'alice-connected-to-support');
      await a.getByRole('button', { name: 'Hang up' }).click();
      await completeAll(a);
      await completeAll(b);
    });

    await scenario('B rejects and A is told', async () => {
      const a = alice.page;
      const b = bob.page;
      await a.getByRole('tab', { name: 'Call Agent' }).click();
      await pickFromCombobox(a, 'Select an agent', 'Bob', /Bob Brown/);
      await (await callButton(a)).click();
      const incoming = b.getByRole('group', { name: 'Alice Anders is calling' });
      await visible(incoming);
      await incoming.getByRole('button', { name: 'Reject' }).click();
      await visible(a.getByText('Bob Brown declined the call.'));
      await visible(b.getByText(/No tasks/));
      await screenshot(a, 'alice-told-bob-declined');
      await completeAll(a);
    });

    await scenario('a typed number says there is no telephone trunk', async () => {
      const a = alice.page;
      await a.getByLabel('Phone number').fill('+15551234567');
      await a.getByRole('form', { name: 'Dialpad' }).getByRole('button', { name: 'Call' }).click();
      await visible(a.getByText(/no telephone trunk is configured/));
      await screenshot(a, 'alice-no-trunk');
      await a.getByLabel('Phone number').fill('');
    });

    await scenario('turning a flag off in the Flex Configuration hides its tab', async () => {
      const a = alice.page;
      const config = await rest(base, 'GET', '/v1/Configuration');
      const ui = config.ui_attributes;
      const withFlags = (flags) => ({
        ui_attributes: {
          ...ui,
          custom_data: {
            ...ui.custom_data,
            features: { ...ui.custom_data.features, internal_call: { ...ui.custom_data.features.internal_call, ...flags } },
          },
        },
      });
      try {
        await rest(base, 'POST', '/v1/Configuration', withFlags({ enable_call_queue: false }));
        await gone(a.getByRole('tab', { name: 'Call Queue' }));
        await visible(a.getByRole('tab', { name: 'Call Agent' }));
        await screenshot(a, 'alice-call-queue-flag-off');
        await rest(base, 'POST', '/v1/Configuration', withFlags({ enable_call_queue: true, enable_call_agent: false }));
        await visible(a.getByRole('tab', { name: 'Call Queue' }));
        await gone(a.getByRole('tab', { name: 'Call Agent' }));
        await rest(base, 'POST', '/v1/Configuration', withFlags({ enabled: false }));
        await gone(a.getByRole('tablist'));
        await screenshot(a, 'alice-internal-call-off');
      } finally {
        await rest(base, 'POST', '/v1/Configuration', { ui_attributes: ui });
      }
      await visible(a.getByRole('tab', { name: 'Call Queue' }));
      await visible(a.getByRole('tab', { name: 'Call Agent' }));
    });

    await scenario('the language switcher shows Flex strings in es-ES', async () => {
      const a = alice.page;
      await a.getByLabel('Language').selectOption('es-ES');
      await visible(a.getByRole('tab', { name: 'Llamar agente' }));
      await visible(a.getByRole('tab', { name: 'Llamar cola' }));
      await screenshot(a, 'alice-es-ES');
      await a.getByLabel('Idioma').selectOption('en-US');
      await visible(a.getByRole('tab', { name: 'Call Agent' }));
    });

    let keyboardAgents = [];
    await scenario('keyboard only: A signs in, sets the activity, picks B and calls; B accepts; A hangs up; both complete', async () => {
      keyboardAgents = await keyboardOnlyInternalCall({ browser, base, newPage, visible, gone, task, rest, ws, sidOf, out: OUT });
    });

    // The server ends the session with {"type":"closed","reason":"worker_deleted"} (the old
    // protocol's {"type":"state","error":"worker gone"} is gone); the desktop returns to sign-in
    // and says why. Dmitri takes part in no other scenario.
    let dmitri;
    await scenario('deleting a signed-in agent returns its desktop to sign-in, saying why', async () => {
      dmitri = await agent(browser, base, 'Dmitri Dorsey');
      await rest(base, 'DELETE', `/v1/Workspaces/${ws}/Workers/${sidOf('dmitri')}`);
      const d = dmitri.page;
      await visible(d.getByText('You were signed out: your agent was removed from the workspace.'));
      await visible(d.getByRole('heading', { name: 'Sign in' }));
      await gone(d.getByRole('heading', { name: 'Dialpad' }));
      await screenshot(d, 'dmitri-signed-out-worker-deleted');
      await axe(d, 'sign-in after the worker was deleted');
    });

    await scenario('the desktop loaded nothing from outside its origin, with no page errors', async () => {
      if (foreign.length) throw new Error(`requests to other hosts: ${foreign.join(', ')}`);
      const errs = [alice, bob, dmitri, ...keyboardAgents].flatMap((x) => x?.errors ?? []);
      if (errs.length) throw new Error(`page errors: ${errs.join('; ')}`);
    });
  } finally {
    writeFileSync(join(OUT, 'axe.json'), JSON.stringify(axeResults, null, 2));
    await browser.close().catch(() => {});
    server.stop();
  }
}

const t0 = Date.now();
try {
  await main();
} catch (e) {
  results.push({ name: 'setup', ok: false, error: e });
  console.log(`FAIL setup: ${e?.stack ?? e}`);
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`\nscreenshots and axe results: ${OUT} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
