// End-to-end audio of transfers, three-way calls and supervisors: the real switchboard server,
// one Debian Chromium per agent whose fake microphone plays its own tone (Alice 440 Hz, Bob
// 880 Hz, Carol 660 Hz, Zoë 1250 Hz; audio-helpers.mjs), everything driven through the desktop's
// UI. What each agent hears is measured in its page on the call's remote stream (an AnalyserNode
// FFT and the inbound-rtp energy), as audio.mjs does:
//   a. warm transfer: Bob consults Carol while Alice hears the hold music, then completes it;
//   b. three-way call: Bob adds Carol, each of the three hears the other two;
//   c. a supervisor: Zoë coaches Bob (only Bob hears her), then Alice, the calling agent (only
//      Alice hears her), then barges in (both hear her);
//   d. a supervisor on a three-way call: Zoë coaches Carol by name, then switches to Bob.
// Prints "N passed, N failed"; screenshots and measurements (transfer.json) go to
// test-results/e2e/ at the repository root.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MARGIN_DB,
  TONE,
  WAIT,
  agentLauncher,
  assertNothingForeignNorBroken,
  audioStatus,
  callButton,
  completeAll,
  gone,
  hearsHoldMusic,
  hearsTone,
  hearsTones,
  measured,
  noAudioLeft,
  pickFromCombobox,
  task,
  untilHeard,
  visible,
} from './audio-helpers.mjs';
import { harness } from './harness.mjs';
import { BIN, CHROMIUM, OUT, freshResults, startServer } from './server.mjs';

freshResults('transfer');


const { launchAgent, foreign, closeAll } = agentLauncher({ executablePath: CHROMIUM });

const { results, axeResults, scenario, screenshot, axe, finish } = harness('transfer');


/** `hears` and, besides, none of `not`'s tones. */
const andNot = (hears, not) => (m) => hears(m) && not.every((x) => m.at[x.tone] < m.peakDb - MARGIN_DB);

/** The call's card on the agent's desktop. */
const canvas = (agent) => agent.page.getByTestId('call-canvas');

/** Bob adds Carol to his call (a three-way call); she accepts, and Bob's call lists her. */
async function bobAddsCarol(bob, carol) {
  await transferTo(bob, /Carol Chen/, 'car', 'Add to call');
  const incoming = carol.page.getByRole('group', { name: /is calling/ });
  await visible(incoming);
  await incoming.getByRole('button', { name: 'Accept' }).click();
  await visible(canvas(bob).getByRole('listitem', { name: 'Carol Chen' }));
}

/** Alice calls Bob from the dialpad; Bob accepts; each hears the other. */
async function aliceCallsBob(alice, bob) {
  const a = alice.page;
  await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
  await (await callButton(a)).click();
  const incoming = bob.page.getByRole('group', { name: 'Alice Anders is calling' });
  await visible(incoming);
  await incoming.getByRole('button', { name: 'Accept' }).click();
  await visible(task(a, 'Bob Brown').getByText('Live', { exact: true }));
  await visible(task(bob.page, 'Alice Anders').getByText('Live', { exact: true }));
  await Promise.all([untilHeard(alice, 'Bob’s 880 Hz', hearsTone(alice, bob)), untilHeard(bob, 'Alice’s 440 Hz', hearsTone(bob, alice))]);
}

/** From the agent's call: Transfer, the agent picked in the directory, then the mode's button. */
async function transferTo(agent, who, search, button, { checkAxe = false } = {}) {
  const p = agent.page;
  await canvas(agent).getByRole('button', { name: 'Transfer', exact: true }).click();
  const panel = p.getByRole('group', { name: 'Transfer the call' });
  await visible(panel);
  const input = panel.locator('input').and(p.getByLabel('Select an agent', { exact: true }));
  await input.click();
  await input.pressSequentially(search, { delay: 30 });
  const option = p.getByRole('option', { name: who });
  await visible(option);
  await option.first().click();
  if (checkAxe) await axe(agent, 'the transfer directory, an agent picked');
  await panel.getByRole('button', { name: button, exact: true }).click();
  await gone(panel);
}

/** The transfer's state on the transferring agent's call. */
const transferState = (agent, state) => agent.page.locator(`[data-testid="transfer-status"][data-transfer-state="${state}"]`);

/** Hangs up every call still live (a call of two agents and more goes on when one leaves), then completes every task. */
async function endEverything(agents) {
  for (const t0 = Date.now(); ; ) {
    const live = [];
    for (const x of agents) {
      const hangUp = x.page.getByRole('button', { name: 'Hang up' });
      if ((await hangUp.count()) > 0) {
        live.push(x);
        await hangUp.first().click({ timeout: 2000 }).catch(() => {});
      }
    }
    if (live.length === 0) break;
    if (Date.now() - t0 > WAIT) {
      for (const x of live) await screenshot(x, 'still-live');
      const notices = await Promise.all(live.map((x) => x.page.getByRole('alert').allTextContents()));
      throw new Error(`calls still live after hanging up: ${live.map((x, i) => `${x.who} (${notices[i].join(' / ')})`).join(', ')}`);
    }
    await agents[0].page.waitForTimeout(200);
  }
  await Promise.all(agents.map((x) => noAudioLeft(x)));
  for (const x of agents) await completeAll(x.page);
}

async function main() {
  const server = await startServer(BIN);
  const wavDir = mkdtempSync(join(tmpdir(), 'switchboard-transfer-'));
  console.log(`server at ${server.url}, audio relay at udp ${server.relay}`);
  try {
    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const fullName = (friendly) => demo.agents.find((a) => a.friendly_name === friendly)?.full_name ?? friendly;

    let alice, bob, carol, zoe;
    await scenario('four agents sign in, each in its own Chromium with its own tone', async () => {
      const who = (friendly) => ({ who: friendly, fullName: fullName(friendly), tone: TONE[friendly], wavDir });
      [alice, bob, carol, zoe] = await Promise.all([
        launchAgent(server.url, who('alice')),
        launchAgent(server.url, who('bob')),
        launchAgent(server.url, who('carol')),
        launchAgent(server.url, who('zoe')),
      ]);
      // Only the supervisor sees the live calls.
      await visible(zoe.page.getByRole('heading', { name: 'Live calls' }));
      if ((await alice.page.getByRole('heading', { name: 'Live calls' }).count()) !== 0) throw new Error('an agent who is no supervisor sees the live calls');
    });

    await scenario('warm transfer: Bob consults Carol while Alice hears the hold music, then completes it and Alice hears Carol', async () => {
      await aliceCallsBob(alice, bob);
      // The participants panel shows Alice on Bob's call.
      await visible(canvas(bob).getByRole('listitem', { name: 'Alice Anders' }));
      await transferTo(bob, /Carol Chen/, 'car', 'Consult', { checkAxe: true });
      await visible(transferState(bob, 'ringing').getByText(/Calling Carol Chen to consult/));
      const incoming = carol.page.getByRole('group', { name: /is calling/ });
      await visible(incoming);
      await incoming.getByRole('button', { name: 'Accept' }).click();
      await visible(transferState(bob, 'consulting').getByText(/Consulting Carol Chen/));
      await visible(canvas(carol).getByTestId('transferred-from').getByText('Transferred from Bob Brown'));
      await Promise.all([
        untilHeard(alice, 'hold music while Bob consults Carol (and not Bob)', hearsHoldMusic),
        untilHeard(bob, 'Carol’s 660 Hz while consulting', andNot(hearsTone(bob, carol), [alice])),
        untilHeard(carol, 'Bob’s 880 Hz while consulting', andNot(hearsTone(carol, bob), [alice])),
      ]);
      await axe(bob, 'consulting: the transfer status and the participants');
      await axe(carol, 'a transferred call');
      await screenshot(bob, 'consulting');
      await screenshot(carol, 'consulted');
      await transferState(bob, 'consulting').getByRole('button', { name: 'Complete transfer' }).click();
      await Promise.all([
        untilHeard(alice, 'Carol’s 660 Hz after the transfer, no more Bob', andNot(hearsTone(alice, carol), [bob])),
        untilHeard(carol, 'Alice’s 440 Hz after the transfer', andNot(hearsTone(carol, alice), [bob])),
      ]);
      await visible(task(bob.page, 'Alice Anders').getByTestId('wrap-up'));
      await screenshot(bob, 'transferred-wrap-up');
      await screenshot(carol, 'transferred');
      await endEverything([alice, bob, carol]);
    });

    await scenario('three-way call: Bob adds Carol, and each of the three hears the other two', async () => {
      await aliceCallsBob(alice, bob);
      await bobAddsCarol(bob, carol);
      await visible(canvas(carol).getByRole('listitem', { name: 'Bob Brown' }));
      await Promise.all([
        untilHeard(alice, 'Bob and Carol', hearsTones(alice, [bob, carol])),
        untilHeard(bob, 'Alice and Carol', hearsTones(bob, [alice, carol])),
        untilHeard(carol, 'Alice and Bob', hearsTones(carol, [alice, bob])),
      ]);
      await screenshot(bob, 'three-way');
      await endEverything([alice, bob, carol]);
    });

    await scenario('supervisor: Zoë coaches Bob (Bob hears her, Alice does not), then Alice, the calling agent (Alice hears her, Bob does not), then barges in', async () => {
      await aliceCallsBob(alice, bob);
      const z = zoe.page;
      const live = z.getByTestId('live-calls').getByRole('listitem', { name: /Live call with .*Bob Brown/ });
      await visible(live);
      if (await live.getByRole('button', { name: 'Coach', exact: true }).count()) throw new Error('a bare Coach button on an internal call with two agents: whom would it coach?');
      await live.getByRole('button', { name: 'Coach Bob Brown', exact: true }).click();
      await visible(live.getByText('You are coaching Bob Brown: only Bob Brown hears you.'));
      await visible(audioStatus(z, 'connected'));
      await Promise.all([
        untilHeard(bob, 'Alice and Zoë (coaching)', hearsTones(bob, [alice, zoe])),
        untilHeard(alice, 'Bob and not Zoë while she coaches', andNot(hearsTone(alice, bob), [zoe])),
        untilHeard(zoe, 'Alice and Bob while coaching', hearsTones(zoe, [alice, bob])),
      ]);
      await visible(canvas(bob).getByRole('listitem', { name: 'Zoë Ortega' }).getByText('Coaching'));
      await axe(zoe, 'live calls, coaching');
      await screenshot(zoe, 'coaching');
      await screenshot(bob, 'coached');
      await live.getByRole('button', { name: 'Coach Alice Anders', exact: true }).click();
      await visible(live.getByText('You are coaching Alice Anders: only Alice Anders hears you.'));
      await Promise.all([
        untilHeard(alice, 'Bob and Zoë (coaching Alice)', hearsTones(alice, [bob, zoe])),
        untilHeard(bob, 'Alice and not Zoë while she coaches Alice', andNot(hearsTone(bob, alice), [zoe])),
      ]);
      await visible(canvas(alice).getByRole('listitem', { name: 'Zoë Ortega' }).getByText('Coaching'));
      await screenshot(zoe, 'coaching-alice');
      await screenshot(alice, 'coached-alice');
      await live.getByRole('button', { name: 'Barge in', exact: true }).click();
      await visible(live.getByText('You joined this call: everyone hears you.'));
      await Promise.all([
        untilHeard(alice, 'Bob and Zoë (barge)', hearsTones(alice, [bob, zoe])),
        untilHeard(bob, 'Alice and Zoë (barge)', hearsTones(bob, [alice, zoe])),
      ]);
      await screenshot(zoe, 'barged');
      await live.getByRole('button', { name: 'Leave', exact: true }).click();
      await untilHeard(alice, 'Bob alone after Zoë left', andNot(hearsTone(alice, bob), [zoe]));
      await noAudioLeft(zoe);
      await endEverything([alice, bob]);
    });

    await scenario('supervisor on a three-way call: Zoë coaches Carol by name (only Carol hears her), then switches to Bob', async () => {
      await aliceCallsBob(alice, bob);
      await bobAddsCarol(bob, carol);
      const z = zoe.page;
      const live = z.getByTestId('live-calls').getByRole('listitem', { name: /Live call with .*Carol Chen/ });
      await visible(live);
      if (await live.getByRole('button', { name: 'Coach', exact: true }).count()) throw new Error('a bare Coach button on a call with two agents: whom would it coach?');
      await live.getByRole('button', { name: 'Coach Carol Chen', exact: true }).click();
      await visible(live.getByText('You are coaching Carol Chen: only Carol Chen hears you.'));
      await visible(audioStatus(z, 'connected'));
      await Promise.all([
        untilHeard(carol, 'Alice, Bob and Zoë (coaching Carol)', hearsTones(carol, [alice, bob, zoe])),
        untilHeard(bob, 'Alice and Carol, not Zoë (coaching Carol)', andNot(hearsTones(bob, [alice, carol]), [zoe])),
        untilHeard(alice, 'Bob and Carol, not Zoë (coaching Carol)', andNot(hearsTones(alice, [bob, carol]), [zoe])),
      ]);
      await screenshot(zoe, 'coaching-carol');
      await live.getByRole('button', { name: 'Coach Bob Brown', exact: true }).click();
      await visible(live.getByText('You are coaching Bob Brown: only Bob Brown hears you.'));
      await Promise.all([
        untilHeard(bob, 'Alice, Carol and Zoë (coaching Bob)', hearsTones(bob, [alice, carol, zoe])),
        untilHeard(carol, 'Alice and Bob, not Zoë (coaching Bob)', andNot(hearsTones(carol, [alice, bob]), [zoe])),
      ]);
      await live.getByRole('button', { name: 'Leave', exact: true }).click();
      await noAudioLeft(zoe);
      await endEverything([alice, bob, carol]);
    });

    await scenario('the desktops loaded nothing from outside their origin, with no page errors', async () => {
      assertNothingForeignNorBroken(foreign, [alice, bob, carol, zoe]);
    });
  } finally {
    writeFileSync(join(OUT, 'transfer.json'), JSON.stringify({ results, measured, axe: axeResults }, null, 2));
    await closeAll();
    server.stop();
    rmSync(wavDir, { recursive: true, force: true });
  }
}

await finish(main);
