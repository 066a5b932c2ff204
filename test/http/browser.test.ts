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
import type { StatusView } from '../../src/http/view-models.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { chromiumMissing as missing, openInBrowser } from '../helpers/browser.ts';
import { FakeJobs, TOPOLOGY, diffSnapshot, splitCloneSimulation, splitDiffSimulation } from './fake-jobs.ts';
import { FakeStreams } from './fake-streams.ts';

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
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  return { jobs, base, shots, browser, page, pageErrors };
}

const barWidth = (page: Page, table: string) => page.$eval(`#table-rows tr[data-table="${table}"] .fill`, (el) => parseFloat((el as HTMLElement).style.width));

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
  await page.evaluate(() => {
    (window as unknown as { sameDocument: boolean }).sameDocument = true;
  });

  // The bars move while the copy runs, without reloading the page.
  await page.waitForSelector('#table-rows tr[data-table="corder"]', { timeout: 10_000 });
  await page.waitForFunction(
    () => {
      const fill = document.querySelector('#table-rows tr[data-table="corder"] .fill') as HTMLElement | null;
      const w = fill ? parseFloat(fill.style.width) : 0;
      return w > 0 && w < 60;
    },
    undefined,
    { timeout: 10_000, polling: 100 },
  );
  const first = await barWidth(page, 'corder');
  const firstCustomer = await barWidth(page, 'customer');
  await page.screenshot({ path: join(shots, 'status-copying.png'), fullPage: true });
  assert.match((await page.textContent('#state')) ?? '', /copying the data/);
  await page.waitForFunction(
    (w) => {
      const fill = document.querySelector('#table-rows tr[data-table="corder"] .fill') as HTMLElement | null;
      return fill !== null && parseFloat(fill.style.width) > w;
    },
    first,
    { timeout: 10_000, polling: 100 },
  );
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
  for (const want of [
    'customer',
    'corder',
    'done',
    '60,000 / 60,000',
    '150,000 / 150,000',
    '210,000 / 210,000',
    '100.0%',
    'zone1-101',
    'zone1-200, zone1-300',
    'chunkCount=500',
  ]) {
    assert.ok(visibleText.includes(want), `page shows ${want}`);
  }
  assert.match(await page.innerText('#log'), /done$/);

  // What the script drew equals what the server draws for the same (ended, so unchanging) snapshot.
  const polled = await page.innerText('#tables');
  const polledFacts = await page.innerText('dl.facts');
  await page.reload();
  assert.equal(await page.innerText('#tables'), polled);
  assert.equal(await page.innerText('dl.facts'), polledFacts);

  // What the script drew last is what GET /api/status/view says.
  assert.deepEqual(await shownOnPage(page), expectedOnPage(await viewOf(page)));

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

test('a SplitDiff on /status: diffing, then error with the red summary and its examples, as the server draws it', {
  skip: missing,
  timeout: 60_000,
}, async (t) => {
  const { jobs, base, shots, browser, page, pageErrors } = await serveInBrowser(t, new FakeJobs(splitDiffSimulation(6000)), 'shardworker-browser-diff-');

  await jobs.start({ command: 'SplitDiff', keyspace: 'commerce', shard: '-80', options: {} });
  await page.goto(base + '/status');
  await page.evaluate(() => {
    (window as unknown as { sameDocument: boolean }).sameDocument = true;
  });
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
  assert.equal(
    await page.textContent(`${corderDiff} .diff-counts`),
    'checked 75,000 · matching 74,983 · mismatched 2 · extra on source 14 · extra on destination 1 · by primary key',
  );
  const lists = await page.$$eval(`${corderDiff} details`, (ds) =>
    ds.map((d) => ({
      kind: (d as HTMLElement).dataset.kind,
      title: d.querySelector('summary')!.textContent,
      items: [...d.querySelectorAll('li')].map((li) => li.textContent),
    })),
  );
  assert.deepEqual(lists, [
    { kind: 'mismatched', title: 'mismatched: 2', items: ['order_id=17 [price, status]', 'order_id=<script>alert(1)</script> [sku]'] },
    { kind: 'extraOnSource', title: 'extra on source: 14', items: [...Array.from({ length: 10 }, (_, i) => `order_id=${1001 + i}`), '… and 4 more'] },
    { kind: 'extraOnDestination', title: 'extra on destination: 1', items: ['order_id=99 on zone1-200'] },
  ]);
  assert.equal(await page.$$eval('main script', (ss) => ss.length), 1, 'the key with <script> is text, no element');
  assert.equal(await page.textContent('#table-rows tr[data-table="event_log"] .note'), 'no primary key: compared as sorted full rows');
  assert.equal(await page.isVisible('#table-rows tr[data-table="customer"] .note'), false);
  await page.$$eval('#tables details', (ds) =>
    ds.forEach((d) => {
      (d as HTMLDetailsElement).open = true;
    }),
  );
  await page.screenshot({ path: join(shots, 'diff-error.png'), fullPage: true });

  // What the script drew equals what the server draws for the same (ended, so unchanging) snapshot.
  const polledDom = await domOf(page, '#tables');
  const polledText = await page.innerText('#tables');
  const polledFacts = await page.innerText('dl.facts');
  await page.reload();
  await page.$$eval('#tables details', (ds) =>
    ds.forEach((d) => {
      (d as HTMLDetailsElement).open = true;
    }),
  );
  assert.equal(await domOf(page, '#tables'), polledDom);
  assert.equal(await page.innerText('#tables'), polledText);
  assert.equal(await page.innerText('dl.facts'), polledFacts);

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
  await phonePage.$eval('.table-wrap', (w) => {
    w.scrollLeft = w.scrollWidth;
  });
  await phonePage.waitForTimeout(100);
  const left = await phonePage.$$eval('#tables .diff', (ds) => Math.min(...ds.map((d) => d.getBoundingClientRect().left)));
  assert.ok(left >= 0, `diff lines stay in view when the table scrolls (left edge ${left}px)`);
  await phonePage.screenshot({ path: join(shots, 'diff-phone-scrolled.png'), fullPage: true });
  await phone.close();

  assert.deepEqual(pageErrors, []);
  t.diagnostic(process.env.KEEP_SCREENSHOTS ? `screenshots in ${shots}` : 'set KEEP_SCREENSHOTS=1 to keep the screenshots');
});

/** GET /api/status/view, as the page's script gets it (its session, its origin). */
function viewOf(page: Page): Promise<StatusView> {
  return page.evaluate(() => fetch('/api/status/view', { cache: 'no-store' }).then((r) => r.json())) as Promise<StatusView>;
}

/**
 * What /status shows, read back from the DOM: every text the view carries, with the classes, widths and hidden
 * flags the script sets. Plain JavaScript in a string, as domOf.
 */
function shownOnPage(page: Page): Promise<unknown> {
  return page.evaluate(`(function () {
    var q = function (root, sel) { return root.querySelector(sel); };
    var t = function (root, sel) { var e = q(root, sel); return e ? e.textContent : null; };
    var all = function (root, sel) { return Array.from(root.querySelectorAll(sel)); };
    var texts = function (root, sel) { return all(root, sel).map(function (e) { return e.textContent; }); };
    var row = function (tr) {
      return {
        cls: tr.className, name: t(tr, '.t-name'), note: t(tr, '.note'), state: t(tr, '.c-state .badge'), width: q(tr, '.fill').style.width,
        label: q(tr, '.bar').getAttribute('aria-label'), percent: t(tr, '.c-percent'), rows: t(tr, '.c-rows'), chunks: t(tr, '.c-chunks'),
        rate: t(tr, '.c-rate'), eta: t(tr, '.c-eta'), kind: t(tr, '.c-kind'),
      };
    };
    var diff = function (tr) {
      if (tr.hidden) return null;
      return {
        cls: q(tr, '.diff').className, summary: t(tr, '.diff-summary'), counts: texts(tr, '.diff-counts span'),
        kinds: all(tr, 'details').map(function (d) { return { kind: d.dataset.kind, title: t(d, 'summary'), items: texts(d, 'li') }; }),
      };
    };
    var body = document.getElementById('table-rows');
    var tables = [];
    for (var i = 0; i < body.rows.length; i += 2) tables.push({ row: row(body.rows[i]), diff: diff(body.rows[i + 1]) });
    var control = document.getElementById('control-card');
    var cutover = document.getElementById('cutover-card');
    return {
      state: t(document, '#state'), stateClass: q(document, '#state').className,
      facts: ['ended-at', 'elapsed', 'sources', 'destinations', 'retries', 'locks', 'snapshot'].map(function (id) { return t(document, '#' + id); }),
      waits: texts(document, '#waits .wait'), error: q(document, '#error').hidden ? null : t(document, '#error'),
      cancel: !q(document, '#cancel-form').hidden, reset: !q(document, '#reset-form').hidden,
      rowsHeading: t(document, '#rows-heading'), tables: tables, totals: row(q(document, '#totals tr')),
      streams: all(document, '#stream-rows tr').map(function (tr) {
        return [tr.dataset.stream, tr.className].concat(['.s-destination', '.s-source code', '.s-tablet', '.s-state .badge', '.s-held', '.s-owner', '.s-position', '.s-behind', '.s-transactions', '.s-rows', '.s-rate', '.s-error'].map(function (s) { return t(tr, s); }));
      }),
      control: control.hidden ? null : {
        texts: ['control-writes', 'control-why', 'control-throttled', 'control-paused', 'control-max-tps', 'control-max-lag'].map(function (id) { return t(document, '#' + id); }),
        replicas: texts(document, '#control-replicas > *'), actions: !q(document, '#control-actions').hidden, paused: q(document, '#pause-form').hidden,
      },
      cutover: cutover.hidden ? null : {
        title: t(document, '#cutover-title'), steps: all(document, '#cutover-steps li').map(function (li) { return [li.className, li.textContent]; }),
        writePause: t(document, '#write-pause'), positions: texts(document, '#cutover-positions div'),
      },
      log: t(document, '#log'),
    };
  })()`);
}

/** What shownOnPage should read for `v`: its strings as they are, put together only as the markup puts them. */
function expectedOnPage(v: StatusView): unknown {
  const row = (r: StatusView['totals']) => ({
    cls: r.stateClass,
    name: r.name,
    note: r.note,
    state: r.state,
    width: `${r.width}%`,
    label: r.progressLabel,
    percent: r.percent,
    rows: r.rows,
    chunks: r.chunks,
    rate: r.rate,
    eta: r.eta,
    kind: r.kind,
  });
  const diff = (d: StatusView['totals']['diff']) =>
    d && {
      cls: `diff ${d.cls}`,
      summary: d.running + d.summary,
      counts: d.counts.map((c) => c.text),
      kinds: d.kinds.map((k) => ({ kind: k.kind, title: k.title, items: [...k.examples.map((e) => e.key + e.rest), ...(k.more ? [k.more] : [])] })),
    };
  return {
    state: v.job.state,
    stateClass: `badge ${v.job.stateClass}`,
    facts: [v.endedAt, v.elapsed, v.sources, v.destinations, v.retries, v.locks, v.snapshot],
    waits: v.waits,
    error: v.job.error,
    cancel: v.job.running,
    reset: v.job.ended,
    rowsHeading: v.rowsHeading,
    tables: v.tables.map((r) => ({ row: row(r), diff: diff(r.diff) })),
    totals: row(v.totals),
    streams: v.streams.map((s) => [
      s.key,
      s.stateClass,
      s.destination,
      s.source,
      s.sourceTablet,
      s.state,
      s.held,
      s.owner,
      s.position,
      s.behind,
      s.transactions,
      s.rows,
      s.rate,
      s.lastError,
    ]),
    control: v.control && {
      texts: [v.control.writes, v.control.why, v.control.throttledTotal, v.control.pausedTotal, v.control.maxTps, v.control.maxReplicationLag],
      replicas: [...v.control.replicas, ...(v.control.noReplicas ? [v.control.noReplicas] : [])],
      actions: v.control.running,
      paused: v.control.paused,
    },
    cutover: v.cutover && {
      title: v.cutover.title,
      steps: v.cutover.steps.map((st) => [st.stateClass, `${st.state} ${st.name} ${st.took}${st.detail}`]),
      writePause: v.cutover.writePause,
      positions: v.cutover.positions.map((p) => p.label + p.position),
    },
    log: v.log,
  };
}

/**
 * A diff with every card of the page filled in: streams, throttle, cutover, waits, retries, snapshot, locks. Every
 * text differs between running and ended, so that a piece the script leaves alone shows stale.
 */
function everything(ended: boolean, replicas: boolean): StatusSnapshot {
  const s = diffSnapshot(ended);
  return {
    ...s,
    sources: ended ? [...s.sources, 'zone1-102'] : s.sources,
    waits: ended ? [] : ['zone1-200: thread 42 has waited 7 s: Waiting for table metadata lock'],
    retries: { total: ended ? 3 : 1, byTablet: ended ? { 'zone1-200': 2, 'zone1-101': 1 } : { 'zone1-200': 1 } },
    locks: {
      names: ended ? ['shard commerce/-80', 'shard commerce/0'] : ['shard commerce/-80'],
      holder: { host: 'db-worker-1', pid: 4242, jobId: 'j1', since: s.startedAt ?? '' },
    },
    snapshot: {
      openedAt: s.startedAt ?? '',
      closedAt: ended ? s.endedAt : null,
      ageSeconds: ended ? 10 : 5.5,
      position: 'MariaDB/0-100-42',
      tablets: [{ tablet: 'zone1-101', position: 'MariaDB/0-100-42', openedAt: s.startedAt ?? '', commitsHeldMs: 4.1 }],
    },
    control: {
      paused: false,
      pausedSince: null,
      pausedSecondsTotal: ended ? 2.5 : 1.25,
      throttled: !ended,
      throttleReason: ended ? null : 'replica zone1-201 of commerce/-80 is 3.2 s behind (bound 2 s)',
      throttledSince: ended ? null : '2026-11-23T19:00:03.000Z',
      throttledSecondsTotal: ended ? 6 : 4.5,
      lastThrottleReason: 'replica zone1-201 of commerce/-80 is 3.2 s behind (bound 2 s)',
      maxTps: ended ? 20 : 0,
      maxReplicationLagSeconds: ended ? 3 : 2,
      replicas: replicas ? [{ tablet: 'zone1-201', shard: 'commerce/-80', lagSeconds: ended ? null : 3.2, error: ended ? 'no answer' : null }] : [],
      holding: null,
    },
    cutover: {
      servedType: 'primary',
      reverse: false,
      from: ['commerce/0'],
      to: ['commerce/-80', 'commerce/80-'],
      tables: ended ? ['corder'] : [],
      steps: ['stop writes', 'flip the topology'].map((name, i) => ({
        name,
        state: ended || i === 0 ? 'done' : 'running',
        detail: ended || i === 0 ? `detail ${i + 1}` : null,
        ms: ended || i === 0 ? 10 * (i + 1) : null,
      })),
      writePauseMs: ended ? 312 : null,
      positions: { from: { 'zone1-100': 'MariaDB/0-100-42' }, to: ended ? { 'zone1-200': 'MariaDB/0-200-7' } : {} },
    },
  };
}

test('/status places what GET /api/status/view says, every card, after its polls', { skip: missing, timeout: 60_000 }, async (t) => {
  const jobs = new FakeJobs();
  jobs.current = everything(false, false);
  const streams = new FakeStreams();
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, streams });
  const { page, base } = await openInBrowser(app, t, { width: 1200, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${base}/status`);
  await page.evaluate(() => {
    (window as unknown as { sameDocument: boolean }).sameDocument = true;
  });
  assert.deepEqual(await shownOnPage(page), expectedOnPage(await viewOf(page)), 'the first render');

  // Every card changes: the script must redraw each from the route's JSON (streams keep the page polling).
  jobs.current = everything(true, true);
  streams.streams[0].secondsBehind = 0;
  streams.streams[0].heldBy = 'SplitDiff job 1234';
  await page.waitForFunction(() => document.getElementById('write-pause')?.textContent === '312 ms', undefined, { timeout: 10_000, polling: 100 });
  await page.waitForTimeout(1500); // another poll, the same view
  const view = await viewOf(page);
  assert.equal(view.live, true, 'the streams keep the page live');
  assert.equal(view.job.state, 'error');
  assert.deepEqual(await shownOnPage(page), expectedOnPage(view));
  assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'updated in place, no reload');
  assert.deepEqual(errors, []);
});
