/**
 * The web console's several connections, roles and accessibility in a real browser (Playwright
 * driving Debian's chromium), on the test driver so that no guest is needed: a second tsvirtd on
 * its own socket, shown through `--http-connect`, has its domains listed under its name; a stop
 * and a start of one of them from the page run on that daemon (its own virsh sees them); the
 * host filter; the second daemon stopping shows as disconnected and its coming back reconnects;
 * an operator token's page has the power actions only. axe-core finds no serious or critical
 * violation on any page (login, list, domain page with each tab, undefine dialog, create wizard),
 * and the dialog and tabs work from the keyboard. An admin removes the second daemon from the
 * page and adds it back with the Add host dialog. Screenshots under test-output/web/hosts/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { newToken } from '../src/web/tokens.js';
import { missing } from './support/host-tools.js';
import { Reaper } from './qemu-harness.js';
import { axeViolations } from './support/axe.js';
import { startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../test-output/web/hosts/', import.meta.url));
const UI_BUILT = existsSync(fileURLToPath(new URL('../web/index.html', import.meta.url)));

function skipReason(): string | false {
  const absent = missing('chromium');
  if (absent !== false) return absent;
  if (!UI_BUILT) return 'the web UI is not built (npm run build builds it into dist/web)';
  return virshSkip();
}

describe('web console: two daemons, roles and accessibility in chromium', { skip: skipReason(), timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let first: RunningDaemon;
  let second: RunningDaemon;
  let secondDir: string;
  let remoteURI: string;
  let base: string;
  let admin: string;
  let browser: Browser;
  const errors: string[] = [];
  let shot = 0;

  async function snap(page: Page, what: string): Promise<void> {
    await page.screenshot({ path: join(OUT, `${String(++shot).padStart(2, '0')}-${what}.png`), fullPage: true });
  }

  /** Screenshot, then axe: no serious or critical violation. */
  async function check(page: Page, what: string): Promise<void> {
    await snap(page, what);
    const v = await axeViolations(page);
    assert.deepEqual(v, [], `${what}: axe found\n${v.join('\n')}`);
  }

  async function newPage(token: string | null): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    // Without a session the page asks /api/session and is told 401: that is how it knows to ask
    // for a token, so on the login page that one refusal (and chromium's note of it) is expected.
    const expected401 = token === null;
    page.on('console', (m) => {
      if (m.type() === 'error' && !(expected401 && m.text().includes('status of 401'))) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('response', (r) => {
      if (r.status() >= 400 && !(expected401 && r.status() === 401 && r.url().endsWith('/api/session'))) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    await page.goto(token === null ? `${base}/` : `${base}/#token=${token}`);
    return page;
  }

  before(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    secondDir = reaper.tempDir('tsvwebui2-');
    second = await startDaemon({ dir: secondDir, uris: ['test:///default'] });
    remoteURI = second.uri('/default');
    const dir = reaper.tempDir('tsvwebui1-');
    first = await startDaemon({ dir, args: ['--http', '127.0.0.1:0', '--http-connect', `second=${remoteURI}`], uris: ['test:///default'], logFile: join(dir, 'tsvirtd.log') });
    const m = /web console: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(first.log());
    assert.ok(m !== null, first.log());
    base = m[1]!;
    admin = m[2]!;
    // A second domain on the second daemon, shut off, to tell the hosts' lists apart. Its
    // test:///default lives while a client holds it: the web console's connection, opened first.
    const s = await fetch(`${base}/api/session`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(s.status, 200);
    const xml = join(secondDir, 'other.xml');
    writeFileSync(xml, "<domain type='test'><name>elsewhere</name><memory>65536</memory><os><type>hvm</type></os></domain>");
    assert.equal(virsh(remoteURI, 'define', xml).code, 0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await first?.stop();
    await second?.stop();
    await reaper.cleanup();
  });

  test('the login page: labelled, keyboard-operable, no axe violation', async () => {
    const page = await newPage(null);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await check(page, 'login');
    // Tab reaches the token field, typing and Enter log in.
    await page.keyboard.press('Tab');
    let focused = await page.evaluate(() => document.activeElement?.id ?? '');
    for (let i = 0; i < 5 && focused !== 'token'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'token', 'the token field is reachable with Tab');
    await page.keyboard.type(admin);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    await page.context().close();
  });

  test("the second daemon's domains are labelled with its name; the host filter; stop and start there from the list", async () => {
    const page = await newPage(admin);
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    const remoteRow = page.locator("tr[data-domain='elsewhere'][data-host='second']");
    await remoteRow.waitFor({ timeout: 15_000 });
    // 'test' on both: one row per host.
    await page.locator("tr[data-domain='test'][data-host='second']").waitFor();
    const localLabel = await page.locator("tr[data-domain='test']").first().getAttribute('data-host');
    assert.notEqual(localLabel, 'second');
    assert.equal(await page.locator("tr[data-domain='test']").count(), 2);
    await page.locator("[data-host='second'][data-connected='yes']").waitFor();
    await check(page, 'list-two-hosts');

    await page.getByLabel('Filter domains by host').selectOption(remoteURI);
    await page.locator("tr[data-domain='test']:not([data-host='second'])").waitFor({ state: 'detached' });
    assert.equal(await page.locator('tr[data-domain]').count(), 2);
    await snap(page, 'list-filtered-second');

    // Stop then start the second daemon's 'test' from the list.
    const row = page.locator("tr[data-domain='test'][data-host='second']");
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Destroy selected' }).click();
    await row.locator("[data-state='shut off']").waitFor({ timeout: 10_000 });
    assert.equal(virsh(remoteURI, 'domstate', 'test').stdout.trim(), 'shut off');
    assert.equal(virsh(first.uri('/default'), 'domstate', 'test').stdout.trim(), 'running', "the first daemon's own 'test' is untouched");
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Start selected' }).click();
    await row.locator("[data-state='running']").waitFor({ timeout: 10_000 });
    assert.equal(virsh(remoteURI, 'domstate', 'test').stdout.trim(), 'running');
    await page.context().close();
  });

  test("a remote domain's page names its host; every tab, the undefine dialog and the wizard pass axe; tabs by Enter and Space, Escape closes the dialog", async () => {
    const page = await newPage(admin);
    const row = page.locator("tr[data-domain='elsewhere'][data-host='second']");
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('link', { name: 'elsewhere' }).click();
    await page.locator("[data-testid='state']", { hasText: 'shut off' }).waitFor();
    assert.equal(await page.locator("[data-testid='domain-host']").innerText(), 'second');
    await check(page, 'domain-console-tab');
    for (const tab of ['Serial console', 'Snapshots', 'Metrics', 'XML']) {
      await page.getByRole('tab', { name: tab }).click();
      if (tab === 'XML') await page.getByLabel('Domain XML').waitFor();
      if (tab === 'Metrics') await page.locator("[data-testid='metrics-CPU'] canvas").waitFor({ timeout: 15_000 });
      if (tab === 'Snapshots') await page.getByText('No snapshots.').waitFor();
      await check(page, `domain-${tab.toLowerCase().replace(/ /g, '-')}`);
    }
    // A tab is chosen from the keyboard: focused, then Enter (or Space).
    await page.getByRole('tab', { name: 'Snapshots' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('No snapshots.').waitFor();
    await page.getByRole('tab', { name: 'XML' }).focus();
    await page.keyboard.press('Space');
    await page.getByLabel('Domain XML').waitFor();

    // A snapshot from the page, on the second daemon.
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByLabel('New snapshot name').fill('s1');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.locator("tr[data-snapshot='s1']").waitFor({ timeout: 10_000 });
    assert.match(virsh(remoteURI, 'snapshot-list', 'elsewhere', '--name').stdout, /s1/);
    await check(page, 'domain-snapshot-made');

    await page.getByRole('button', { name: 'Undefine…' }).click();
    await page.locator("[data-testid='undefine-reasons']").waitFor();
    await check(page, 'undefine-dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    await page.goto(`${base}/#/create`);
    await page.getByRole('heading', { name: 'Create a virtual machine' }).waitFor();
    await check(page, 'create-wizard');
    await page.context().close();
  });

  test('an operator token: power actions only, no undefine, no wizard, no XML save; axe passes', async () => {
    const op = newToken();
    appendFileSync(join(first.socketDir, 'web-tokens'), `operator ${op} web ui test\n`);
    const page = await newPage(op);
    await page.getByText('operator (consoles and power)').waitFor();
    assert.equal(await page.getByText('Create VM…').count(), 0);
    const row = page.locator("tr[data-domain='elsewhere'][data-host='second']");
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('link', { name: 'elsewhere' }).click();
    await page.locator("[data-testid='state']").waitFor();
    await page.getByRole('button', { name: 'Start' }).waitFor();
    for (const no of ['Managed save', 'Undefine…', 'Add tag', 'Create snapshot']) assert.equal(await page.getByRole('button', { name: no }).count(), 0, no);
    await check(page, 'operator-domain');
    await page.getByRole('tab', { name: 'XML' }).click();
    await page.getByLabel('Domain XML').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save XML' }).count(), 0);
    await page.context().close();
  });

  test('keyboard focus walks down a long list: rows beyond the rendered window come into the page as Tab reaches them', async () => {
    const q = `?uri=${encodeURIComponent('test:///default')}`;
    for (let i = 0; i < 80; i++) {
      const r = await fetch(`${base}/api/domains${q}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ xml: `<domain type='test'><name>kb${String(i).padStart(3, '0')}</name><memory>65536</memory><os><type>hvm</type></os></domain>` }),
      });
      assert.equal(r.status, 200);
    }
    const page = await newPage(admin);
    await page.getByLabel('Filter domains by name or state').fill('kb');
    await page.locator("[data-testid='domain-count'][data-count='80']").waitFor({ timeout: 15_000 });
    assert.equal(await page.locator("tr[data-domain='kb079']").count(), 0, 'the last rows are not in the page yet');
    await page.locator("tr[data-domain='kb000'] a").focus();
    let at = '';
    for (let i = 0; i < 200 && at !== 'kb079'; i++) {
      await page.keyboard.press('Tab');
      at = await page.evaluate(() => (document.activeElement?.tagName === 'A' ? (document.activeElement.closest('tr')?.getAttribute('data-domain') ?? '') : ''));
    }
    assert.equal(at, 'kb079', "Tab reaches the last row's link");
    assert.ok(await page.locator("tr[data-domain='kb079'] a").isVisible(), 'scrolled into view');
    await page.keyboard.press('Enter');
    await page.locator("[data-testid='state']").waitFor();
    assert.match(await page.getByRole('heading', { level: 2 }).innerText(), /kb079/);
    await page.context().close();
  });

  test('the second daemon going away shows as disconnected; back, it is listed again', async () => {
    const page = await newPage(admin);
    await page.locator("[data-host='second'][data-connected='yes']").waitFor({ timeout: 15_000 });
    // The second daemon's rows only (the local list is long by now: its rows come first).
    await page.getByLabel('Filter domains by host').selectOption(remoteURI);
    await page.locator("tr[data-domain='elsewhere'][data-host='second']").waitFor();
    await second.stop();
    await page.locator("[data-host='second'][data-connected='no']").waitFor({ timeout: 15_000 });
    await page.locator("tr.tsv-offline[data-host='second']").first().waitFor();
    await check(page, 'list-second-disconnected');
    second = await startDaemon({ dir: secondDir, uris: ['test:///default'] });
    await page.locator("[data-host='second'][data-connected='yes']").waitFor({ timeout: 15_000 });
    // A new test:///default: 'elsewhere' is gone, 'test' is back.
    await page.locator("tr[data-domain='elsewhere'][data-host='second']").waitFor({ state: 'detached', timeout: 15_000 });
    await page.locator("tr[data-domain='test'][data-host='second']:not(.tsv-offline)").waitFor({ timeout: 15_000 });
    await snap(page, 'list-second-back');

    // An admin stops showing it, then adds it back from the page.
    await page.getByRole('button', { name: 'Stop showing host second' }).click();
    await page.locator("tr[data-host='second']").first().waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByRole('button', { name: 'Add host…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('#host-label').fill('second');
    await dialog.locator('#host-uri').fill(remoteURI);
    await check(page, 'add-host-dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Add' }).click();
    await page.locator("tr[data-domain='test'][data-host='second']").waitFor({ timeout: 15_000 });
    await page.locator("[data-host='second'][data-connected='yes']").waitFor();
    await page.context().close();
  });

  test('the pages logged no console error', () => {
    assert.deepEqual(errors, []);
  });
});
