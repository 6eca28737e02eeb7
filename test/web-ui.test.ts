/**
 * The web console in a real browser: Playwright drives Debian's chromium against tsvirtd --http
 * with a real TCG guest. The whole story of one domain, as a user clicks it: the list (live from
 * events, no reload), start, the guest's screen in the VNC canvas (not one colour), a command
 * typed into the serial console and its echo, a snapshot, the undefine that the rules refuse
 * shown with its reasons, the undefine with the offered flags, and the list without the domain.
 * A read-only token sees the console and no power buttons. A screenshot of every page is kept
 * under test-output/web/; the page logs no console error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { newToken } from '../src/web/tokens.js';
import { missing } from './support/host-tools.js';
import { axeViolations } from './support/axe.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason } from './qemu-harness.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../test-output/web/', import.meta.url));
const UI_BUILT = existsSync(fileURLToPath(new URL('../web/index.html', import.meta.url)));

function skipReason(): string | false {
  const absent = missing('chromium');
  if (absent !== false) return absent;
  if (!UI_BUILT) return 'the web UI is not built (npm run build builds it into dist/web)';
  return qemuSkipReason() || virshSkip();
}

describe('web console in chromium', { skip: skipReason(), timeout: 400_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon;
  let base: string;
  let admin: string;
  let browser: Browser;
  const errors: string[] = [];
  let shot = 0;
  const name = `webui${Math.floor(Math.random() * 1e6)}`;
  const uuid = randomUUID();
  let qemuURI: string;
  let guest: { dir: string; kernel: string; initrd: string };
  const wizName = `wiz${Math.floor(Math.random() * 1e6)}`;

  async function snap(page: Page, what: string): Promise<void> {
    await page.screenshot({ path: join(OUT, `${String(++shot).padStart(2, '0')}-${what}.png`), fullPage: true });
  }

  /** Screenshot, then axe-core: no serious or critical violation on the page as it is. */
  async function check(page: Page, what: string): Promise<void> {
    await snap(page, what);
    const v = await axeViolations(page);
    assert.deepEqual(v, [], `${what}: axe found\n${v.join('\n')}`);
  }

  async function newPage(token: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    await page.goto(`${base}/#token=${token}`);
    return page;
  }

  before(async () => {
    // This test's screenshots only: web-hosts-ui.test.ts keeps its own under hosts/.
    mkdirSync(OUT, { recursive: true });
    for (const f of readdirSync(OUT)) if (f.endsWith('.png')) rmSync(join(OUT, f), { force: true });
    const dir = reaper.tempDir('tsvwebui-');
    d = await startDaemon({ dir, args: ['--http', '127.0.0.1:0'], uris: ['qemu:///session'], logFile: join(dir, 'tsvirtd.log') });
    const m = /web console: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(d.log());
    assert.ok(m !== null, d.log());
    base = m[1]!;
    admin = m[2]!;
    qemuURI = `qemu+unix:///session?socket=${d.rw}`;
    guest = await buildTestGuest(join(dir, 'guest'));
    const disk = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const xml = guestXML({
      name,
      uuid,
      guest,
      mode: 'A',
      shell: true,
      tty0: true,
      serial: join(dir, 'serial.log'),
      pty: { log: true },
      extraDevices: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk><graphics type='vnc' autoport='yes' listen='127.0.0.1'/>`,
    });
    const f = join(dir, 'dom.xml');
    writeFileSync(f, xml);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      virsh(qemuURI, 'destroy', name);
      virsh(qemuURI, 'destroy', wizName);
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('define → start → screen → serial echo → snapshot → refused undefine with reasons → undefine → gone from the list', async () => {
    const page = await newPage(admin);
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    await check(page, 'list-empty');

    // virsh defines it: the open list shows it without a reload (events).
    const dir = d.dir;
    const r = virsh(qemuURI, 'define', join(dir, 'dom.xml'));
    assert.equal(r.code, 0, r.stderr);
    const row = page.locator(`tr[data-domain='${name}']`);
    await row.waitFor({ timeout: 15_000 });
    await assert.doesNotReject(row.locator("[data-state='shut off']").waitFor({ timeout: 5_000 }));
    await check(page, 'list-defined');

    await row.getByRole('link', { name }).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator("[data-testid='state']", { hasText: 'running' }).waitFor({ timeout: 60_000 });
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);

    // The screen: noVNC draws into a canvas; wait until it shows more than one colour.
    const canvas = page.locator("[data-testid='vnc'] canvas");
    await canvas.waitFor({ timeout: 30_000 });
    let colours = 0;
    const deadline = Date.now() + 120_000;
    while (colours < 2 && Date.now() < deadline) {
      await page.waitForTimeout(2000);
      colours = await canvas.evaluate((c: HTMLCanvasElement) => {
        const ctx = c.getContext('2d');
        if (ctx === null || c.width === 0) return 0;
        const data = ctx.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < data.length && seen.size < 4; i += 4 * 97) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return seen.size;
      });
    }
    await check(page, 'vnc');
    assert.ok(colours >= 2, 'the guest screen shows more than one colour');

    // The metrics: uPlot draws its canvases; the server's samples arrive as the page refreshes.
    await page.getByRole('tab', { name: 'Metrics' }).click();
    await page.locator("[data-testid='metrics-CPU'] canvas").waitFor({ timeout: 15_000 });
    const count = page.locator("[data-testid='metrics-count']");
    const metricsUntil = Date.now() + 30_000;
    while (Number(await count.innerText()) < 2 && Date.now() < metricsUntil) await page.waitForTimeout(1000);
    assert.ok(Number(await count.innerText()) >= 2, 'at least two samples shown');
    assert.equal(await page.locator("[data-testid='metrics'] canvas").count(), 4, 'CPU, memory, disk and network graphs');
    await check(page, 'metrics');

    // The serial console: type a command, read its output back from the terminal.
    await page.getByRole('tab', { name: 'Serial console' }).click();
    const term = page.locator("[data-testid='serial'] .xterm");
    await term.waitFor();
    const marker = `ui-${Math.floor(Math.random() * 1e6)}`;
    let text = '';
    const until = Date.now() + 120_000;
    while (!text.includes(`${marker}-ok`) && Date.now() < until) {
      await term.click();
      await page.keyboard.type(`echo ${marker}-ok\n`);
      await page.waitForTimeout(2500);
      text = await page.locator("[data-testid='serial'] .xterm-rows").innerText();
    }
    await check(page, 'serial');
    assert.ok(text.includes(`${marker}-ok`), `the echo appears: ${text.slice(-300)}`);

    // A snapshot with memory, shown in the tree as current.
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByLabel('New snapshot name').fill('first');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.locator("tr[data-snapshot='first']", { hasText: 'current' }).waitFor({ timeout: 120_000 });
    await check(page, 'snapshots');

    // Shut it off, then undefine: the dialog shows the refusal with its reason and flag.
    await page.getByRole('button', { name: 'Destroy' }).click();
    await page.locator("[data-testid='state']", { hasText: 'shut off' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Undefine…' }).click();
    const reasons = page.locator("[data-testid='undefine-reasons']");
    await reasons.waitFor();
    assert.match(await reasons.innerText(), /cannot delete inactive domain with 1 snapshots/);
    assert.match(await reasons.innerText(), /VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA/);
    await check(page, 'undefine-dialog');
    const undefineButton = page.getByRole('dialog').getByRole('button', { name: 'Undefine' });
    assert.equal(await undefineButton.isDisabled(), true, 'refused until the flag is chosen');
    await page.getByRole('dialog').getByRole('checkbox').check();
    await page.getByRole('dialog').getByRole('button', { name: 'Undefine' }).click();

    // Back on the list, without the domain; virsh agrees.
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    await page.locator(`tr[data-domain='${name}']`).waitFor({ state: 'detached', timeout: 15_000 });
    await check(page, 'list-after');
    assert.notEqual(virsh(qemuURI, 'dominfo', name).code, 0, 'virsh no longer finds it');
    await page.context().close();
  });

  test("the XML editor shows libvirt's error inline for a bad edit, keeps the text, and saves a good one", async () => {
    const r = virsh(qemuURI, 'define', join(d.dir, 'dom.xml'));
    assert.equal(r.code, 0, r.stderr);
    const page = await newPage(admin);
    const row = page.locator(`tr[data-domain='${name}']`);
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('link', { name }).click();
    await page.getByRole('tab', { name: 'XML' }).click();
    const editor = page.getByLabel('Domain XML');
    await editor.waitFor();
    const until = Date.now() + 10_000;
    while (!(await editor.inputValue()).includes('<memory') && Date.now() < until) await page.waitForTimeout(200);
    const original = await editor.inputValue();
    assert.match(original, /<memory unit='KiB'>\d+<\/memory>/);
    const bad = original.replace(/<memory unit='KiB'>\d+/, "<memory unit='KiB'>lots");
    await editor.fill(bad);
    await page.getByRole('button', { name: 'Save XML' }).click();
    const err = page.locator("[data-testid='xml-error']");
    await err.waitFor({ timeout: 10_000 });
    // The editor saves with VIR_DOMAIN_DEFINE_VALIDATE: libvirt's schema error, naming the value.
    assert.match(await err.innerText(), /XML document failed to validate against schema: Unable to validate doc against \S+domain\.rng[\s\S]*'lots'/);
    assert.equal(await editor.inputValue(), bad, "the user's text is kept");
    // The refusal was asked for: its 400 and chromium's note of it are not errors of the page.
    const expected = [`400 PUT ${base}/api/domains/${uuid}/xml?uri=qemu%3A%2F%2F%2Fsession`, 'Failed to load resource: the server responded with a status of 400 (Bad Request)'];
    const noted = Date.now() + 5_000;
    while (!expected.every((e) => errors.includes(e)) && Date.now() < noted) await page.waitForTimeout(100);
    for (const e of expected) {
      const i = errors.indexOf(e);
      assert.ok(i >= 0, `expected ${e} among ${JSON.stringify(errors)}`);
      errors.splice(i, 1);
    }
    await check(page, 'xml-error');
    assert.doesNotMatch(virsh(qemuURI, 'dumpxml', '--inactive', name).stdout, /lots/);

    const good = original.replace(/<memory unit='KiB'>\d+<\/memory>/, "<memory unit='KiB'>196608</memory>").replace(/<currentMemory unit='KiB'>\d+<\/currentMemory>/, "<currentMemory unit='KiB'>196608</currentMemory>");
    await editor.fill(good);
    await page.getByRole('button', { name: 'Save XML' }).click();
    await page.locator("[data-testid='xml-saved']").waitFor({ timeout: 10_000 });
    assert.equal(await err.count(), 0, 'the error is gone');
    assert.match(virsh(qemuURI, 'dumpxml', '--inactive', name).stdout, /<memory unit='KiB'>196608<\/memory>/);
    await check(page, 'xml-saved');
    await page.context().close();
  });

  test('a read-only token sees the list and no power or undefine buttons', async () => {
    const ro = newToken();
    appendFileSync(join(d.socketDir, 'web-tokens'), `readonly ${ro}\n`);
    const r = virsh(qemuURI, 'define', join(d.dir, 'dom.xml'));
    assert.equal(r.code, 0, r.stderr);
    const page = await newPage(ro);
    await page.getByText('read-only').waitFor();
    const row = page.locator(`tr[data-domain='${name}']`);
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('button', { name: /selected/ }).count(), 0, 'no bulk actions');
    await row.getByRole('link', { name }).click();
    await page.locator("[data-testid='state']").waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Undefine…' }).count(), 0);
    await check(page, 'readonly-domain');
    await page.context().close();
    virsh(qemuURI, 'undefine', name);
  });

  test('the create-VM wizard shows its XML, creates a volume in a pool, defines and starts the VM, and opens its page', async () => {
    // A directory pool, made with virsh as a user would.
    const poolDir = join(d.dir, 'wizpool');
    mkdirSync(poolDir);
    const poolXML = join(d.dir, 'wizpool.xml');
    writeFileSync(poolXML, `<pool type='dir'><name>wizpool</name><target><path>${poolDir}</path></target></pool>`);
    for (const args of [['pool-define', poolXML], ['pool-start', 'wizpool']]) {
      const r = virsh(qemuURI, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const page = await newPage(admin);
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    await page.getByText('Create VM…').click();
    await page.getByRole('heading', { name: 'Create a virtual machine' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(wizName);
    await page.getByLabel('Memory (MiB)').fill('128');
    await page.locator('#vm-pool option', { hasText: 'wizpool' }).waitFor({ state: 'attached' });
    await page.getByLabel('Storage pool').selectOption('wizpool');
    await page.getByLabel('Size (MiB)').fill('16');
    await page.getByLabel('Kernel path').fill(guest.kernel);
    await page.getByLabel('Initrd path').fill(guest.initrd);
    await page.getByLabel('Kernel command line').fill('console=ttyS0 quiet panic=-1 guest.mode=A');
    await page.getByRole('button', { name: 'Review XML' }).click();
    const review = page.getByLabel('XML to define');
    await review.waitFor();
    const xml = await review.inputValue();
    assert.match(xml, new RegExp(`<name>${wizName}</name>`));
    assert.match(xml, new RegExp(`<source pool='wizpool' volume='${wizName}\\.qcow2'/>`));
    assert.match(xml, /<interface type='user'>/);
    assert.match(xml, /<memory unit='MiB'>128<\/memory>/);
    await check(page, 'wizard-review');
    await page.getByRole('button', { name: 'Define and start' }).click();
    // Its page, running.
    await page.locator("[data-testid='state']", { hasText: 'running' }).waitFor({ timeout: 60_000 });
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    assert.match(await page.getByRole('heading', { level: 2 }).innerText(), new RegExp(wizName));
    await check(page, 'wizard-started');
    assert.ok(existsSync(join(poolDir, `${wizName}.qcow2`)), 'the volume file exists');
    assert.match(virsh(qemuURI, 'vol-list', 'wizpool').stdout, new RegExp(`${wizName}\\.qcow2`));
    assert.match(virsh(qemuURI, 'domstate', wizName).stdout, /running/);

    // A tag, added on its page, kept in its metadata, shown in the list and filterable.
    await page.getByLabel('New tag').fill('wizard');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.locator("[data-testid='domain-tags'] [data-tag='wizard']").waitFor({ timeout: 10_000 });
    assert.match(virsh(qemuURI, 'metadata', wizName, 'https://tsvirt.dev/xmlns/tags/1').stdout, /<tag>wizard<\/tag>/);
    await page.goto(`${base}/#/`);
    const wizRow = page.locator(`tr[data-domain='${wizName}']`);
    await wizRow.locator("[data-tag='wizard']").waitFor({ timeout: 15_000 });
    const filter = page.getByLabel('Filter domains by name or state');
    await filter.fill('tag:elsewhere');
    await wizRow.waitFor({ state: 'detached', timeout: 5_000 });
    await filter.fill('tag:wizard');
    await wizRow.waitFor({ timeout: 5_000 });
    await check(page, 'tags-filter');
    await page.context().close();
  });

  test('the pages logged no console error', () => {
    assert.deepEqual(errors, []);
  });
});
