// The pages in headless Chromium: start a SplitClone from the index form, watch /status update itself until done.
// Needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); skipped, saying so, where it is missing.
// KEEP_SCREENSHOTS=1 keeps the screenshots (index, status while copying and done, phone; a diff while diffing, ended
// in error, and on a phone) and prints where.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { formatCount, formatDuration, formatPercent, formatRate, formatTime } from '../../src/http/format.ts';
import { diffView } from '../../src/http/view-models.ts';
import { chromiumMissing as missing, openInBrowser } from '../helpers/browser.ts';
import { FakeJobs, TOPOLOGY, diffSnapshot, splitCloneSimulation, splitDiffSimulation } from './fake-jobs.ts';

/** The app on a free loopback port with `jobs`, a browser page on it, and a screenshot dir; all closed after `t`. */
async function serveInBrowser(t: TestContext, jobs: FakeJobs, shotPrefix: string) {
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY });
  const { page, base, browser } = await openInBrowser(app, t, { width: 1100, height: 900 });
  const shots = await mkdtemp(join(tmpdir(), shotPrefix));
  t.after(async () => {
    if (!process.env.KEEP_SCREENSHOTS) await rm(shots, { recursive: true, force: true });
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
  return { jobs, base, shots, browser, page, pageErrors };
}

const barWidth = (page: Page, table: string) =>
  page.$eval(`#table-rows tr[data-table="${table}"] .fill`, (el) => parseFloat((el as HTMLElement).style.width));

test('start a SplitClone from the index and watch /status reach done', { skip: missing, timeout: 60_000 }, async (t) => {
  const { jobs, base, shots, browser, page, pageErrors } = await serveInBrowser(t, new FakeJobs(splitCloneSimulation(5000)), 'shardworker-browser-');

  await page.goto(base + '/');
  assert.equal(await page.textContent('#job-state'), 'not started');
  const targets = await page.$$eval('#form-SplitClone select[name="target"] option', (os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(targets, ['commerce/0']);
  await page.screenshot({ path: join(shots, 'index.png'), fullPage: true });

  await page.click('#form-SplitClone details.options summary');
  await page.fill('#form-SplitClone input[name="opt.chunkCount"]', '500');
  await Promise.all([page.waitForURL(base + '/status'), page.click('#form-SplitClone button[type="submit"]')]);
  assert.equal(jobs.started.length, 1);
  assert.deepEqual(jobs.started[0], { command: 'SplitClone', keyspace: 'commerce', shard: '0', options: { chunkCount: '500' } });
  await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });

  // The bars move while the copy runs, without reloading the page.
  await page.waitForSelector('#table-rows tr[data-table="corder"]', { timeout: 10_000 });
  await page.waitForFunction(() => {
    const fill = document.querySelector('#table-rows tr[data-table="corder"] .fill') as HTMLElement | null;
    const w = fill ? parseFloat(fill.style.width) : 0;
    return w > 0 && w < 60;
  }, undefined, { timeout: 10_000, polling: 100 });
  const first = await barWidth(page, 'corder');
  const firstCustomer = await barWidth(page, 'customer');
  await page.screenshot({ path: join(shots, 'status-copying.png'), fullPage: true });
  assert.match((await page.textContent('#state')) ?? '', /copying the data/);
  await page.waitForFunction((w) => {
    const fill = document.querySelector('#table-rows tr[data-table="corder"] .fill') as HTMLElement | null;
    return fill !== null && parseFloat(fill.style.width) > w;
  }, first, { timeout: 10_000, polling: 100 });
  const second = await barWidth(page, 'corder');
  assert.ok(second > first, `corder bar grew: ${first}% then ${second}%`);
  assert.ok((await barWidth(page, 'customer')) >= firstCustomer);
  assert.equal(await page.isVisible('#cancel-form'), true, 'Cancel while running');
  assert.equal(await page.isVisible('#reset-form'), false);

  // Then done: polling stops, Reset replaces Cancel.
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', undefined, { timeout: 15_000, polling: 200 });
  await page.waitForTimeout(300); // the bars' width transition
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'updated in place, no reload');
  assert.equal(await barWidth(page, 'customer'), 100);
  assert.equal(await barWidth(page, 'corder'), 100);
  assert.equal(await page.isVisible('#reset-form'), true, 'Reset once ended');
  assert.equal(await page.isVisible('#cancel-form'), false);
  assert.equal(await page.isVisible('#error'), false);
  const shot = join(shots, 'status-done.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok((await stat(shot)).size > 10_000);
  const visibleText = await page.innerText('main');
  for (const want of ['customer', 'corder', 'done', '60,000 / 60,000', '150,000 / 150,000', '210,000 / 210,000', '100.0%', 'zone1-101', 'zone1-200, zone1-300', 'chunkCount=500']) {
    assert.ok(visibleText.includes(want), `page shows ${want}`);
  }
  assert.match(await page.innerText('#log'), /done$/);

  // What the script drew equals what the server draws for the same (ended, so unchanging) snapshot.
  const polled = await page.innerText('#tables');
  const polledFacts = await page.innerText('dl.facts');
  await page.reload();
  assert.equal(await page.innerText('#tables'), polled);
  assert.equal(await page.innerText('dl.facts'), polledFacts);

  // The page's formatting agrees with src/http/format.ts.
  const durations = [0, 0.5, 45, 59.6, 65, 3599, 3600, 7380, 86400, 93600, -3, null, NaN];
  const counts = [0, 999, 1000, 1234567, -1234, 1234.6, null];
  const percents = [0, 0.0001, 0.42, 0.58, 0.9999, 1, 1.5, NaN];
  const rates = [0, 0.25, 3.5, 10, 52000.4, null];
  const inPage = await page.evaluate(({ durations, counts, percents, rates }) => {
    const f = (window as unknown as { shardworkerFormat: Record<string, (x: unknown) => string> }).shardworkerFormat;
    return {
      durations: durations.map((x) => f.duration(x)),
      counts: counts.map((x) => f.count(x)),
      percents: percents.map((x) => f.percent(x)),
      rates: rates.map((x) => f.rate(x)),
      time: f.time('2026-11-23T19:00:00.000Z'),
    };
  }, { durations, counts, percents, rates });
  assert.deepEqual(inPage, {
    durations: durations.map(formatDuration),
    counts: counts.map(formatCount),
    percents: percents.map(formatPercent),
    rates: rates.map(formatRate),
    time: formatTime('2026-11-23T19:00:00.000Z'),
  });

  // On a phone: the page fits the width and the table scrolls inside its box.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const phonePage = await phone.newPage();
  await phonePage.goto(base + '/status');
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling of the page (${overflow}px)`);
  await phonePage.screenshot({ path: join(shots, 'status-phone.png'), fullPage: true });
  await phonePage.goto(base + '/');
  await phonePage.screenshot({ path: join(shots, 'index-phone.png'), fullPage: true });
  await phone.close();

  // Reset from the page: back to no job.
  await Promise.all([page.waitForURL(base + '/status'), page.click('#reset-form button')]);
  assert.equal(await page.textContent('#state'), 'not started');

  assert.deepEqual(pageErrors, []);
  t.diagnostic(process.env.KEEP_SCREENSHOTS ? `screenshots in ${shots}` : 'set KEEP_SCREENSHOTS=1 to keep the screenshots');
});

/**
 * The elements under `selector` as text: tags, attributes (but `open`, which the user toggles) and text, ignoring the
 * whitespace between tags; what the page's script drew compares equal to what the server draws only if both build
 * the same DOM.
 */
function domOf(page: Page, selector: string): Promise<string> {
  // Plain JavaScript in a string: tsx would add helpers (__name) to a function that Chromium does not have.
  return page.evaluate(`(function () {
    function ser(node) {
      if (node.nodeType === Node.TEXT_NODE) return node.data.trim() ? JSON.stringify(node.data) : '';
      if (node.nodeType !== Node.ELEMENT_NODE) return '';
      var attrs = Array.from(node.attributes).filter(function (a) { return a.name !== 'open'; })
        .map(function (a) { return a.name + '=' + JSON.stringify(a.name === 'style' ? node.style.cssText : a.value); }).sort().join(' ');
      return '<' + node.localName + ' ' + attrs + '>' + Array.from(node.childNodes).map(ser).join('') + '</' + node.localName + '>';
    }
    var copy = document.querySelector(${JSON.stringify(selector)}).cloneNode(true);
    copy.normalize();
    return ser(copy);
  })()`);
}

test('a SplitDiff on /status: diffing, then error with the red summary and its examples, as the server draws it', { skip: missing, timeout: 60_000 }, async (t) => {
  const { jobs, base, shots, browser, page, pageErrors } = await serveInBrowser(t, new FakeJobs(splitDiffSimulation(6000)), 'shardworker-browser-diff-');

  await jobs.start({ command: 'SplitDiff', keyspace: 'commerce', shard: '-80', options: {} });
  await page.goto(base + '/status');
  await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });
  assert.equal(await page.textContent('#rows-heading'), 'rows read / estimated');

  // While diffing: corder's line is red already, says it is still diffing, and lists what it found so far.
  const corderDiff = '#table-rows tr[data-diff-of="corder"]';
  await page.waitForSelector(`${corderDiff}:not([hidden]) .diff-bad .diff-running`, { timeout: 10_000 });
  assert.equal(await page.textContent('#state'), 'diffing the data');
  assert.equal(await page.getAttribute('#state', 'class'), 'badge state-diffing-the-data');
  assert.equal(await page.textContent('#table-rows tr[data-table="corder"] .badge'), 'diffing');
  assert.match((await page.textContent(`${corderDiff} .diff-summary`)) ?? '', /^diffing… \d+ rows checked: \d+ matching, /);
  await page.screenshot({ path: join(shots, 'diff-running.png'), fullPage: true });
  // A list the user opens stays open while the page redraws the line.
  await page.click(`${corderDiff} details[data-kind="extraOnSource"] summary`);

  // Then error: every table diffed, polling stopped.
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'error', undefined, { timeout: 15_000, polling: 200 });
  await page.waitForTimeout(300); // the bars' width transition
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'updated in place, no reload');
  assert.equal(await page.getAttribute(`${corderDiff} details[data-kind="extraOnSource"]`, 'open'), '', 'still open');
  assert.equal(await page.isVisible('#error'), true);
  assert.equal(await page.isVisible('#reset-form'), true);
  const red = 'rgb(198, 40, 40)';
  const green = 'rgb(26, 127, 55)';
  const colorOf = (sel: string) => page.$eval(sel, (el) => getComputedStyle(el).color);
  assert.equal(await colorOf(`${corderDiff} .diff-summary`), red);
  assert.equal(await colorOf('#table-rows tr[data-diff-of="customer"] .diff-summary'), green);
  assert.equal(await colorOf('#table-rows tr[data-diff-of="event_log"] .diff-summary'), green);
  assert.match((await page.textContent(`${corderDiff} .diff-summary`)) ?? '', /^75000 rows checked: 74983 matching, 2 mismatched/);
  assert.equal(await page.textContent(`${corderDiff} .diff-counts`),
    'checked 75,000 · matching 74,983 · mismatched 2 · extra on source 14 · extra on destination 1 · by primary key');
  const lists = await page.$$eval(`${corderDiff} details`, (ds) => ds.map((d) => ({
    kind: (d as HTMLElement).dataset.kind,
    title: d.querySelector('summary')!.textContent,
    items: [...d.querySelectorAll('li')].map((li) => li.textContent),
  })));
  assert.deepEqual(lists, [
    { kind: 'mismatched', title: 'mismatched: 2', items: ['order_id=17 [price, status]', 'order_id=<script>alert(1)</script> [sku]'] },
    { kind: 'extraOnSource', title: 'extra on source: 14', items: [...Array.from({ length: 10 }, (_, i) => `order_id=${1001 + i}`), '… and 4 more'] },
    { kind: 'extraOnDestination', title: 'extra on destination: 1', items: ['order_id=99 on zone1-200'] },
  ]);
  assert.equal(await page.$$eval('main script', (ss) => ss.length), 1, 'the key with <script> is text, no element');
  assert.equal(await page.textContent('#table-rows tr[data-table="event_log"] .note'), 'no primary key: compared as sorted full rows');
  assert.equal(await page.isVisible('#table-rows tr[data-table="customer"] .note'), false);
  await page.$$eval('#tables details', (ds) => ds.forEach((d) => { (d as HTMLDetailsElement).open = true; }));
  await page.screenshot({ path: join(shots, 'diff-error.png'), fullPage: true });

  // What the script drew equals what the server draws for the same (ended, so unchanging) snapshot.
  const polledDom = await domOf(page, '#tables');
  const polledText = await page.innerText('#tables');
  const polledFacts = await page.innerText('dl.facts');
  await page.reload();
  await page.$$eval('#tables details', (ds) => ds.forEach((d) => { (d as HTMLDetailsElement).open = true; }));
  assert.equal(await domOf(page, '#tables'), polledDom);
  assert.equal(await page.innerText('#tables'), polledText);
  assert.equal(await page.innerText('dl.facts'), polledFacts);

  // The page's diffView agrees with the server's, for diffs clean and not, finished and not.
  const diffs = [...diffSnapshot(false).tables, ...diffSnapshot(true).tables].flatMap((tb) => (tb.diff ? [tb.diff] : []));
  diffs.push({ ...diffs[0], comparedBy: 'full row', examples: { mismatched: [{ key: 'k=1', columns: [], destination: 'zone1-300' }], extraOnSource: [], extraOnDestination: [] }, mismatched: 1 });
  const inPage = await page.evaluate((ds) => ds.map((d) => (window as unknown as { shardworkerDiffView: (d: unknown) => unknown }).shardworkerDiffView(d)), diffs);
  assert.deepEqual(inPage, diffs.map(diffView));

  // On a phone: the page fits the width; the diff lines stay in view while the table scrolls sideways.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const phonePage = await phone.newPage();
  await phonePage.goto(base + '/status');
  await phonePage.click(`${corderDiff} details[data-kind="mismatched"] summary`);
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling of the page (${overflow}px)`);
  const right = await phonePage.$$eval('#tables .diff', (ds) => Math.max(...ds.map((d) => d.getBoundingClientRect().right)));
  assert.ok(right <= 390, `diff lines within the screen (right edge ${right}px)`);
  await phonePage.screenshot({ path: join(shots, 'diff-phone.png'), fullPage: true });
  await phonePage.$eval('.table-wrap', (w) => { w.scrollLeft = w.scrollWidth; });
  await phonePage.waitForTimeout(100);
  const left = await phonePage.$$eval('#tables .diff', (ds) => Math.min(...ds.map((d) => d.getBoundingClientRect().left)));
  assert.ok(left >= 0, `diff lines stay in view when the table scrolls (left edge ${left}px)`);
  await phonePage.screenshot({ path: join(shots, 'diff-phone-scrolled.png'), fullPage: true });
  await phone.close();

  assert.deepEqual(pageErrors, []);
  t.diagnostic(process.env.KEEP_SCREENSHOTS ? `screenshots in ${shots}` : 'set KEEP_SCREENSHOTS=1 to keep the screenshots');
});
