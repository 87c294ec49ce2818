// Keyboard-only end-to-end helpers: two agents do a whole internal call with page.keyboard alone
// (Tab, Shift+Tab, arrow keys, Enter, Space, typing). No mouse, no element.click(), no
// locator.click(), no element.focus(). Every element that receives focus on the way is checked:
// Chromium's own accessibility tree must give it a role and a non-empty accessible name, it must
// match :focus-visible, and it (or the box drawn around it) must show a focus indicator (an
// outline or a box-shadow ring).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_TABS = 60;

/** Chromium's computed role and name of document.activeElement, and how its focus is drawn. */
export async function focusedElement(page) {
  const cdp = page.__kbCdp ?? (page.__kbCdp = await page.context().newCDPSession(page));
  const { result } = await cdp.send('Runtime.evaluate', { expression: 'document.activeElement' });
  const info = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return { onBody: true };
    // A ring: an outline, or a box-shadow whose spread is at least 2px (Paste's borders are 1px
    // box-shadows, its focus rings 2px inset or 4px). Paste draws an input's ring on the box
    // around it (:focus-within), so the element and a few ancestors are looked at.
    const ring = (node) => {
      const s = getComputedStyle(node);
      const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 ? `outline ${s.outlineWidth} ${s.outlineStyle} ${s.outlineColor}` : null;
      const shadows = s.boxShadow === 'none' ? [] : s.boxShadow.split(/,(?![^(]*\))/).map((x) => x.trim());
      const wide = shadows.find((sh) => {
        const px = [...sh.replace(/rgba?\([^)]*\)/g, '').matchAll(/(-?[\d.]+)px/g)].map((m) => parseFloat(m[1]));
        return px.length >= 4 && px[3] >= 2;
      });
      return outline ?? (wide ? `box-shadow ${wide}` : null);
    };
    let indicator = null;
    let node = el;
    for (let depth = 0; node && node !== document.body && depth < 4 && !indicator; depth++, node = node.parentElement) {
      indicator = ring(node);
    }
    const describe = (n) => {
      const text = (n.getAttribute('aria-label') ?? n.textContent ?? '').trim().replace(/\s+/g, ' ');
      return `<${n.tagName.toLowerCase()}${n.id ? '#' + n.id : ''}> ${text.slice(0, 60)}`;
    };
    return {
      onBody: false,
      tag: el.tagName.toLowerCase(),
      describe: describe(el),
      focusVisible: el.matches(':focus-visible'),
      indicator,
      value: 'value' in el ? String(el.value) : null,
      selectedText: el.tagName === 'SELECT' ? el.selectedOptions[0]?.textContent ?? null : null,
      activeDescendant: el.getAttribute('aria-activedescendant'),
      expanded: el.getAttribute('aria-expanded') ?? el.closest('[role=combobox]')?.getAttribute('aria-expanded') ?? null,
    };
  });
  if (info.onBody || !result.objectId) return { ...info, role: null, name: '' };
  const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { objectId: result.objectId, fetchRelatives: false });
  await cdp.send('Runtime.releaseObject', { objectId: result.objectId }).catch(() => {});
  const ax = nodes.find((n) => !n.ignored) ?? nodes[0];
  return { ...info, role: ax?.role?.value ?? null, name: String(ax?.name?.value ?? '').trim() };
}

/** Throws unless the focused element is named, focus-visible, and shows a ring. */
function checkFocus(f, where) {
  if (f.onBody) throw new Error(`${where}: focus is on <body>`);
  if (!f.name) throw new Error(`${where}: the focused ${f.role} ${f.describe} has no accessible name`);
  if (!f.role || f.role === 'generic' || f.role === 'none') throw new Error(`${where}: the focused ${f.describe} has no role (${f.role})`);
  if (!f.focusVisible) throw new Error(`${where}: the focused ${f.role} "${f.name}" does not match :focus-visible`);
  if (!f.indicator) throw new Error(`${where}: the focused ${f.role} "${f.name}" shows no outline or box-shadow ring`);
}

export function keyboardDriver(page, who, log) {
  const record = async (key, where) => {
    // Paste animates its focus rings (box-shadow transitions of about 100 ms): wait for the ring.
    let f = await focusedElement(page);
    for (let t0 = Date.now(); !f.onBody && !f.indicator && Date.now() - t0 < 1000; ) {
      await page.waitForTimeout(50);
      f = await focusedElement(page);
    }
    log.push({ who, key, role: f.role, name: f.name, focusVisible: f.focusVisible, indicator: f.indicator, element: f.describe ?? '<body>' });
    return f;
  };
  return {
    page,
    /** The focused element, checked. */
    async focused(where) {
      const f = await record('(now)', where);
      checkFocus(f, `${who}: ${where}`);
      return f;
    },
    /** Waits until focus is on role+name (after the control that had it went away), checked. */
    async focusMovesTo(role, name, after) {
      let f;
      for (let t0 = Date.now(); Date.now() - t0 < 5000; await page.waitForTimeout(50)) {
        f = await focusedElement(page);
        if (f.role === role && f.name === name) break;
      }
      log.push({ who, key: `focus after ${after}`, role: f.role, name: f.name, element: f.describe ?? '<body>' });
      if (f.role !== role || f.name !== name) throw new Error(`${who}: after ${after}, focus is on ${f.onBody ? '<body>' : `${f.role} "${f.name}"`}, not ${role} "${name}"`);
      await this.focused(`after ${after}`);
      return f;
    },
    /** Tab (or Shift+Tab) until a focused element's role and name match; checks every stop. */
    async tabTo(role, name, { back = false, max = MAX_TABS } = {}) {
      const key = back ? 'Shift+Tab' : 'Tab';
      const seen = [];
      const matches = (f) => (role instanceof RegExp ? role.test(f.role) : f.role === role) && (name instanceof RegExp ? name.test(f.name) : f.name === name);
      const now = await focusedElement(page);
      if (!now.onBody && matches(now)) {
        const f = await record('(already there)', `${role} ${name}`);
        checkFocus(f, `${who}: at ${role} ${name}`);
        return f;
      }
      for (let i = 0; i < max; i++) {
        await page.keyboard.press(key);
        const f = await record(key, `${role} ${name}`);
        checkFocus(f, `${who}: tabbing to ${role} ${name} (stop ${i + 1})`);
        seen.push(`${f.role} "${f.name}"`);
        if (matches(f)) return f;
      }
      throw new Error(`${who}: ${max} × ${key} did not reach ${role} ${name}; went through ${seen.join(', ')}`);
    },
    async press(key, where) {
      await page.keyboard.press(key);
      log.push({ who, key, where });
    },
    async type(text) {
      await page.keyboard.type(text, { delay: 40 });
      log.push({ who, key: `type ${JSON.stringify(text)}` });
    },
  };
}

/**
 * The scenario. `ctx`: { browser, base, newPage(browser, base) → { page, errors }, visible, gone,
 * task(page, name), rest, ws, sidOf, out }.
 */
export async function keyboardOnlyInternalCall(ctx) {
  const { base, visible, gone, task, out } = ctx;
  const log = [];
  let shot = 0;
  const snap = async (page, name) => {
    shot += 1;
    await page.screenshot({ path: join(out, `kb-${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const workerActivity = async (friendly) =>
    (await ctx.rest(base, 'GET', `/v1/Workspaces/${ctx.ws}/Workers/${ctx.sidOf(friendly)}`)).activity_name;
  const waitFor = async (what, fn) => {
    for (let t0 = Date.now(); Date.now() - t0 < 15_000; ) {
      if (await fn()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  const signIn = async (fullName, who) => {
    const { page, errors } = await ctx.newPage(ctx.browser, base);
    const kb = keyboardDriver(page, who, log);
    await visible(page.getByRole('button', { name: new RegExp(`Sign in as ${fullName}`) }));
    await kb.tabTo('button', new RegExp(`^Sign in as ${fullName}`));
    if (who === 'alice') await snap(page, 'alice-sign-in-focused');
    await kb.press('Enter', 'sign in');
    await visible(page.getByText(`Signed in as ${fullName}`));
    await visible(page.getByRole('heading', { name: 'Dialpad' }));
    return { page, errors, kb };
  };

  try {
    const alice = await signIn('Alice Anders', 'alice');
    const bob = await signIn('Bob Brown', 'bob');
    const a = alice.page;
    const b = bob.page;

    // Activity: on the native select, typing an option's first letter picks it (the order of the
    // options is the server's); the server is told each time.
    const select = await alice.kb.tabTo('combobox', 'Activity');
    if (select.selectedText !== 'Available') throw new Error(`alice starts as ${select.selectedText}, not Available`);
    await alice.kb.press('b', 'activity');
    await waitFor('alice to be on Break', async () => (await workerActivity('alice')) === 'Break');
    await waitFor('the select to show Break', async () => (await alice.kb.focused('activity select')).selectedText === 'Break');
    await snap(a, 'alice-activity-break');
    await a.waitForTimeout(1100); // let the select's type-ahead buffer ("b") lapse
    await alice.kb.press('a', 'activity');
    await waitFor('alice to be Available again', async () => (await workerActivity('alice')) === 'Available');
    await waitFor('the select to show Available', async () => (await alice.kb.focused('activity select')).selectedText === 'Available');

    // Call Agent: type part of Bob's name, ArrowDown to him, Enter.
    // Paste's Combobox follows the ARIA 1.1 pattern (the input is a textbox inside role=combobox).
    await alice.kb.tabTo(/^(combobox|textbox)$/, 'Select an agent');
    await alice.kb.type('bro');
    const listbox = a.locator('[role=listbox]'); // the agent list (the native selects hold options too)
    await visible(listbox.getByRole('option', { name: /Bob Brown/ }));
    await a.waitForTimeout(400); // the search is debounced (250 ms)
    const options = await listbox.getByRole('option').allInnerTexts();
    const bobAt = options.findIndex((o) => /Bob Brown/.test(o));
    if (bobAt < 0) throw new Error(`Bob is not in the list: ${JSON.stringify(options)}`);
    for (let i = 0; i <= bobAt; i++) await alice.kb.press('ArrowDown', 'agent list');
    const highlighted = await alice.kb.focused('agent list, Bob highlighted');
    if (highlighted.expanded !== 'true') throw new Error(`the agent list is not open: ${JSON.stringify(highlighted)}`);
    const activeText = highlighted.activeDescendant
      ? await a.evaluate((id) => document.getElementById(id)?.textContent ?? '', highlighted.activeDescendant)
      : '';
    if (!/Bob Brown/.test(activeText)) throw new Error(`ArrowDown highlighted "${activeText}", not Bob Brown`);
    await snap(a, 'alice-bob-highlighted');
    await alice.kb.press('Enter', 'pick Bob');
    await waitFor('the input to read Bob Brown', async () => (await alice.kb.focused('agent picked')).value === 'Bob Brown');
    const callBtn = a.getByRole('tabpanel').getByRole('button', { name: 'Call', exact: true });
    await waitFor('the Call button to be enabled with Bob picked', () => callBtn.isEnabled());
    await alice.kb.tabTo('button', 'Call');
    await snap(a, 'alice-call-focused');
    await alice.kb.press('Enter', 'call');
    await visible(task(a, 'Bob Brown'));
    await alice.kb.focused('after Call');

    // Bob accepts with Space.
    const incoming = b.getByRole('group', { name: 'Alice Anders is calling' });
    await visible(incoming);
    await bob.kb.tabTo('button', 'Accept');
    await snap(b, 'bob-accept-focused');
    await bob.kb.press('Space', 'accept');
    await visible(task(a, 'Bob Brown').getByText('Live', { exact: true }));
    await visible(task(b, 'Alice Anders').getByText('Live', { exact: true }));
    await bob.kb.focusMovesTo('button', 'Hang up', 'Accept');
    await snap(b, 'bob-focus-on-hang-up');

    // Alice hangs up with Enter.
    await alice.kb.tabTo('button', 'Hang up');
    await snap(a, 'alice-hang-up-focused');
    await alice.kb.press('Enter', 'hang up');
    await visible(a.getByRole('button', { name: 'Complete' }));
    await visible(b.getByRole('button', { name: 'Complete' }));
    await alice.kb.focusMovesTo('button', 'Complete', 'Hang up');

    // Both complete: Alice with Enter, Bob with Space.
    await alice.kb.tabTo('button', 'Complete');
    await snap(a, 'alice-complete-focused');
    await alice.kb.press('Enter', 'complete');
    await visible(a.getByText(/No tasks/));
    await alice.kb.focusMovesTo('heading', 'Tasks', 'Complete');
    await bob.kb.tabTo('button', 'Complete');
    await snap(b, 'bob-complete-focused');
    await bob.kb.press('Space', 'complete');
    await visible(b.getByText(/No tasks/));
    await gone(task(b, 'Alice Anders'));
    await bob.kb.focusMovesTo('heading', 'Tasks', 'Complete');
    await snap(a, 'alice-done');
    return [alice, bob];
  } finally {
    writeFileSync(join(out, 'kb-focus.json'), JSON.stringify(log, null, 2));
  }
}
