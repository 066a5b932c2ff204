// Access control in headless Chromium, as an operator meets it: a page sends them to the login form, the token
// logs them in, the forms work (their CSRF field and the SameSite cookie travel as a browser sends them), a form
// posted from another site is refused, and after logout the pages ask again.
// Needs Debian's chromium at /usr/bin/chromium; skipped, saying so, where it is missing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/http/app.ts';
import { chromiumMissing as missing, openInBrowser } from '../helpers/browser.ts';
import { FakeJobs, TOPOLOGY, splitCloneSimulation } from './fake-jobs.ts';

const TOKEN = 'browser-token-0123456789';

test('log in, start and cancel a job, refuse a cross-site form, log out', { skip: missing, timeout: 60_000 }, async (t) => {
  const jobs = new FakeJobs(splitCloneSimulation(20_000));
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, auth: { token: TOKEN, publicStatus: false } });
  const { page, base, browser } = await openInBrowser(app, t);

  await page.goto(`${base}/status`);
  assert.equal(page.url(), `${base}/login?next=%2Fstatus`);
  await page.fill('#login-token', 'not-the-token-at-all');
  await page.click('#login-form button');
  await page.waitForSelector('#login-error');
  assert.equal(await page.textContent('#login-error'), 'That is not the token.');

  await page.fill('#login-token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/status`), page.click('#login-form button')]);
  const cookies = await page.context().cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0].httpOnly, true);
  assert.equal(cookies[0].sameSite, 'Strict');
  assert.notEqual(cookies[0].value, TOKEN);

  await page.goto(`${base}/`);
  await Promise.all([page.waitForURL(`${base}/status`), page.click('#form-SplitClone button[type="submit"]')]);
  assert.equal(jobs.started.length, 1);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'copying the data', undefined, { timeout: 15_000, polling: 100 });

  // A page on another origin posting the cancel form to the daemon, with the operator's browser.
  const evil = await browser.newPage();
  await evil.goto('data:text/html,<form method="post" action="' + base + '/cancel"><button>win a prize</button></form>');
  await evil.click('button');
  await evil.waitForLoadState();
  assert.equal(jobs.cancels, 0, 'the cross-site form canceled nothing');
  await evil.close();

  await Promise.all([page.waitForURL(`${base}/status`), page.click('#cancel-form button')]);
  assert.equal(jobs.cancels, 1);

  await Promise.all([page.waitForURL(`${base}/login`), page.click('#logout-form button')]);
  await page.goto(`${base}/`);
  assert.equal(page.url(), `${base}/login?next=%2F`);
});
