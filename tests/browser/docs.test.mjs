// Drives taskd's /docs page in Debian's headless chromium through playwright-core, as a learner
// would: create a task, upload a file through the file picker, download it, delete the task, read it
// again. Checks every status the page shows, one teaching explanation, that the page asks nothing
// of any other origin and logs no console error, and saves desktop and phone screenshots.
//
//   TASKD_ADDR=127.0.0.1:PORT node tests/browser/docs.test.mjs
//
// Environment: TASKD_ADDR (required, host:port of a running taskd), TASKD_TOKEN (the bearer token,
// when that taskd was started with one; typed into the page's token field), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default target/screenshots under the repository).
// Exit code 0 when every step passed, 1 on the first failed step, 2 on a usage error.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, counts, step, StepFailed } from './steps.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const ADDR = process.env.TASKD_ADDR;
if (!ADDR || !/^[\w.:[\]-]+:\d+$/.test(ADDR)) {
  console.error('usage: TASKD_ADDR=HOST:PORT node tests/browser/docs.test.mjs (got ' + JSON.stringify(ADDR) + ')');
  process.exit(2);
}
const ORIGIN = 'http' + '://' + ADDR;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = process.env.TASKD_TOKEN || '';
const SHOTS = path.resolve(process.env.SCREENSHOT_DIR || path.join(ROOT, 'target', 'screenshots'));
const TIMEOUT = 15_000;
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const OPERATIONS = ['list_tasks', 'create_task', 'get_task', 'update_task', 'delete_task',
  'upload_attachment', 'download_attachment', 'delete_attachment', 'health', 'openapi', 'docs'];

// The file uploaded through the picker: every byte value, so the download must be byte-exact, and
// a non-ASCII name, so the page has to read Content-Disposition's filename* (RFC 8187).
const UPLOAD_NAME = 'résumé notes.txt';
const UPLOAD_BYTES = Buffer.concat([
  Buffer.from('taskd browser test: every byte value follows\n'),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
]);


// What the page asked for, and what it logged.
const offOrigin = [];
const consoleErrors = [];
const pageErrors = [];
const expectedErrorStatuses = []; // [path, status] the test provoked on purpose
function watch(page) {
  page.on('request', (req) => {
    const url = req.url();
    if (!(url.startsWith(ORIGIN + '/') || url.startsWith('blob:') || url.startsWith('data:'))) offOrigin.push(url);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push({ text: msg.text(), url: (msg.location() || {}).url || '' });
  });
  page.on('pageerror', (err) => pageErrors.push(String(err && err.message ? err.message : err)));
}
// Chromium itself logs "Failed to load resource: the server responded with a status of 404" for
// every 4xx fetch. Those are expected for the requests the test makes to get a 4xx; any other
// console error is a failure.
function unexpectedConsoleErrors() {
  return consoleErrors.filter(({ text, url }) => {
    const m = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
    if (!m || !url.startsWith(ORIGIN + '/')) return true;
    const where = new URL(url).pathname;
    return !expectedErrorStatuses.some(([p, s]) => p === where && s === Number(m[1]));
  });
}

async function openOperation(page, id) {
  const op = page.locator(`details[data-operation="${id}"]`);
  await op.waitFor({ timeout: TIMEOUT });
  if (!(await op.evaluate((d) => d.open))) await op.locator(':scope > summary').click();
  check(await op.evaluate((d) => d.open), `${id}: clicking its summary did not open it`);
  return op;
}
async function fillParam(op, name, value) {
  await op.locator(`input[data-param="${name}"]`).fill(String(value));
}
/** Presses Send and waits for the response panel; returns what the page shows. */
async function send(op) {
  await op.locator('form button[data-action="send"]').first().click();
  const panel = op.locator('[data-response][data-state="done"], [data-response][data-state="error"]');
  await panel.waitFor({ timeout: TIMEOUT });
  const status = (await panel.locator('[data-status]').textContent()).trim();
  const code = Number(await panel.getAttribute('data-status-code'));
  const headers = {};
  for (const dd of await panel.locator('dd[data-header]').all()) {
    headers[await dd.getAttribute('data-header')] = (await dd.textContent()).trim();
  }
  const bodyNode = panel.locator('[data-response-body]');
  const body = (await bodyNode.count()) ? (await bodyNode.textContent()) : null;
  const empty = (await panel.locator('[data-body-empty]').count()) > 0;
  const explain = panel.locator('[data-explain]');
  return { panel, status, code, headers, body, empty, explain };
}
/** `reasons`: the phrases the page may show for `code` (taskd sends RFC 9110's names). */
function expectStatus(shown, code, ...reasons) {
  const lines = reasons.map((r) => `HTTP ${code} ${r}`);
  check(lines.includes(shown.status), `expected "${lines.join('" or "')}" on the page, it shows "${shown.status}"`);
  check(shown.code === code, `data-status-code is ${shown.code}, not ${code}`);
}
async function expectVisible(locator, what) {
  check((await locator.count()) > 0 && (await locator.first().isVisible()), `${what} is not visible`);
}
async function screenshot(page, name, options = {}) {
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, ...options });
  return `${path.relative(ROOT, file)} (${Math.round(statSync(file).size / 1024)} KiB)`;
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const started = Date.now();
  // playwright-core gives every launch() a fresh temporary --user-data-dir and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
  let page;
  try {
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await desktop.newPage();
    page.setDefaultTimeout(TIMEOUT);
    watch(page);
    const title = `Browser test ${Date.now()}`;
    let taskId = null;

    await step('open /docs', async () => {
      const res = await page.goto(ORIGIN + '/docs', { waitUntil: 'load' });
      check(res && res.status() === 200, `GET /docs answered ${res && res.status()}`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: TIMEOUT });
      const shown = await page.locator('details[data-operation]').evaluateAll((ds) => ds.map((d) => d.dataset.operation));
      const missing = OPERATIONS.filter((id) => !shown.includes(id));
      check(missing.length === 0, `operations missing from the page: ${missing.join(', ')} (shown: ${shown.join(', ') || 'none'})`);
      if (TOKEN) await page.locator('#auth-token').fill(TOKEN);
      return `${shown.length} operations built from /openapi.json`;
    });

    await step('the About box explains CORS and --trace', async () => {
      const about = page.locator('#api-about');
      await expectVisible(about, 'the About box');
      const text = await page.locator('#api-description').textContent();
      check(text.includes('--cors-origin') && text.includes('preflight') && text.includes('--trace'),
        `the About box does not mention --cors-origin, the preflight and --trace: ${text.slice(-400)}`);
      return 'Calling taskd from a web page (CORS), Watching the wire';
    });

    await step('accessibility: every form control is labelled, every action is a button', async () => {
      const report = await page.evaluate(() => {
        // Open every card so that every control is rendered, then close them again.
        const closed = [...document.querySelectorAll('details:not([open])')];
        closed.forEach((d) => { d.open = true; });
        const controls = [...document.querySelectorAll('input, textarea, select')];
        const unlabelled = controls
          .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
          .map((c) => c.outerHTML.slice(0, 80));
        const actions = [...document.querySelectorAll('[data-action]')];
        const notButtons = actions.filter((a) => a.tagName !== 'BUTTON').map((a) => a.outerHTML.slice(0, 80));
        closed.forEach((d) => { d.open = false; });
        return { controls: controls.length, unlabelled, actions: actions.length, notButtons };
      });
      check(report.unlabelled.length === 0, `controls without a label: ${report.unlabelled.join(' | ')}`);
      check(report.notButtons.length === 0, `actions that are not buttons: ${report.notButtons.join(' | ')}`);
      return `${report.controls} controls labelled, ${report.actions} send buttons`;
    });

    await step('create a task (POST /tasks)', async () => {
      const op = await openOperation(page, 'create_task');
      const editor = op.locator('textarea[data-body]');
      check((await editor.inputValue()).trim().startsWith('{'), 'the JSON editor is not pre-filled with an example object');
      await editor.fill(JSON.stringify({ title, priority: 'high' }, null, 2));
      const shown = await send(op);
      expectStatus(shown, 201, 'Created');
      const location = shown.headers.location;
      check(/^\/tasks\/\d+$/.test(location || ''), `Location header not shown as /tasks/{id}: ${JSON.stringify(location)}`);
      taskId = Number(location.split('/').pop());
      const task = JSON.parse(shown.body);
      check(task.id === taskId && task.title === title && task.priority === 'high' && task.attachment === null,
        `body does not match the created task: ${shown.body}`);
      check(shown.headers['content-type'] === 'application/json', `Content-Type shown: ${shown.headers['content-type']}`);
      return `${shown.status}, Location ${location}`;
    });

    await step('teaching: 201 explained next to the response', async () => {
      const op = page.locator('details[data-operation="create_task"]');
      const explain = op.locator('[data-explain][data-explain-status="201"]');
      await expectVisible(explain, 'the explanation of 201');
      const text = await explain.innerText();
      check(text.includes('Created') && text.includes('RFC 9110 §15.3.2') && text.includes('Location'),
        `the 201 explanation lacks "Created", "RFC 9110 §15.3.2" or "Location": ${text.slice(0, 200)}`);
      await expectVisible(page.locator('#status-guide tr[data-status-row="201"]'), 'the 201 row of the status table');
      // The 201's ETag is the new task's: its button fills If-Match on the task's own cards.
      const etag = (await op.locator('[data-response] dd[data-header="etag"]').textContent()).trim();
      await explain.locator('button[data-use-etag="If-Match"]').click();
      const ifMatch = page.locator('details[data-operation="update_task"] input[data-param="If-Match"]');
      check((await ifMatch.inputValue()) === etag, `update_task's If-Match holds ${JSON.stringify(await ifMatch.inputValue())}, not the 201's ETag ${etag}`);
      // Emptied again (the cards are closed, so not by typing), for the steps that follow.
      await page.evaluate(() => document.querySelectorAll('input[data-param="If-Match"]').forEach((i) => { i.value = ''; }));
      return 'RFC 9110 §15.3.2 and Location, from the status table; its ETag fills If-Match of /tasks/{task_id}';
    });

    await step('desktop screenshot (1280×900)', async () => {
      // The response and its explanation, with the end of the form above them.
      await page.locator('details[data-operation="create_task"] [data-response]').evaluate((d) => window.scrollTo(0, d.getBoundingClientRect().top + window.scrollY - 130));
      const a = await screenshot(page, 'desktop.png');
      await page.evaluate(() => window.scrollTo(0, 0));
      const b = await screenshot(page, 'desktop-top.png');
      return `${a}, ${b}`;
    });

    await step('upload a file through the file picker (POST /tasks/{id}/attachment)', async () => {
      const op = await openOperation(page, 'upload_attachment');
      await fillParam(op, 'task_id', taskId);
      await op.locator('input[type="file"][data-field="file"]').setInputFiles({ name: UPLOAD_NAME, mimeType: 'text/plain', buffer: UPLOAD_BYTES });
      const shown = await send(op);
      expectStatus(shown, 200, 'OK');
      const task = JSON.parse(shown.body);
      check(task.attachment && task.attachment.filename === UPLOAD_NAME && task.attachment.size === UPLOAD_BYTES.length,
        `attachment shown is ${JSON.stringify(task.attachment)}, expected ${UPLOAD_NAME} of ${UPLOAD_BYTES.length} bytes`);
      check(shown.body.includes(`"filename": "${UPLOAD_NAME}"`) && shown.body.includes(`"size": ${UPLOAD_BYTES.length}`),
        'filename and size are not shown in the pretty-printed body');
      return `${shown.status}, ${task.attachment.filename} (${task.attachment.size} bytes)`;
    });

    await step('download it (GET /tasks/{id}/attachment)', async () => {
      const op = await openOperation(page, 'download_attachment');
      await fillParam(op, 'task_id', taskId);
      const shown = await send(op);
      expectStatus(shown, 200, 'OK');
      check((shown.headers['content-disposition'] || '').startsWith('attachment;'), `Content-Disposition shown: ${shown.headers['content-disposition']}`);
      check(shown.headers['content-length'] === String(UPLOAD_BYTES.length), `Content-Length shown: ${shown.headers['content-length']}`);
      check(shown.headers['content-type'] === 'text/plain', `Content-Type shown: ${shown.headers['content-type']}`);
      const link = shown.panel.locator('a[data-download]');
      await expectVisible(link, 'the download link');
      check((await link.getAttribute('download')) === UPLOAD_NAME, `the link saves as ${await link.getAttribute('download')}, not ${UPLOAD_NAME}`);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: TIMEOUT }), link.click()]);
      check(download.suggestedFilename() === UPLOAD_NAME, `downloaded as ${download.suggestedFilename()}`);
      const saved = readFileSync(await download.path());
      check(saved.equals(UPLOAD_BYTES), `downloaded ${saved.length} bytes that differ from the ${UPLOAD_BYTES.length} uploaded`);
      return `${shown.status}, saved "${download.suggestedFilename()}", ${saved.length} bytes identical to the upload`;
    });

    await step('every card can send If-Match, If-None-Match and Range', async () => {
      const missing = await page.evaluate(() => {
        const cards = [...document.querySelectorAll('details[data-operation], details[data-probe]')];
        return cards.flatMap((card) => ['If-Match', 'If-None-Match', 'Range']
          .filter((name) => !card.querySelector(`input[data-in="header"][data-param="${name}"]`))
          .map((name) => `${card.dataset.operation || card.dataset.probe}: ${name}`));
      });
      check(missing.length === 0, `cards without the field: ${missing.join(', ')}`);
      return 'on every operation and probe card';
    });

    await step('ETag, then If-None-Match: a 304 shown as it came (GET /tasks/{id})', async () => {
      const op = await openOperation(page, 'get_task');
      await fillParam(op, 'task_id', taskId);
      const first = await send(op);
      expectStatus(first, 200, 'OK');
      const etag = first.headers.etag;
      check(/^"[0-9a-f]{32}"$/.test(etag || ''), `ETag shown: ${etag}`);
      check(first.headers['cache-control'] === 'no-cache', `Cache-Control shown: ${first.headers['cache-control']}`);
      await first.explain.locator('button[data-use-etag="If-None-Match"]').click();
      const field = op.locator('input[data-param="If-None-Match"]');
      check((await field.inputValue()) === etag, `the button put ${await field.inputValue()} into If-None-Match`);
      const shown = await send(op);
      expectStatus(shown, 304, 'Not Modified');
      check(shown.empty && shown.body === null, 'the 304 is not shown with an empty body');
      check(shown.headers.etag === etag, `the 304's ETag: ${shown.headers.etag}`);
      check(!('content-length' in shown.headers) && !('content-type' in shown.headers),
        `a 304 shown with Content-Length or Content-Type: ${JSON.stringify(shown.headers)}`);
      const text = await shown.explain.innerText();
      check(text.includes('RFC 9110 §15.4.5'), 'the 304 explanation does not cite RFC 9110 §15.4.5');
      await field.fill('');
      return `${shown.status}, ETag ${etag}, no body`;
    });

    await step('412 for a stale If-Match (PATCH /tasks/{id})', async () => {
      const op = await openOperation(page, 'update_task');
      await fillParam(op, 'task_id', taskId);
      await fillParam(op, 'If-Match', '"0123456789abcdef0123456789abcdef"');
      await op.locator('textarea[data-body]').fill('{"done": true}');
      expectedErrorStatuses.push([`/tasks/${taskId}`, 412]);
      const shown = await send(op);
      expectStatus(shown, 412, 'Precondition Failed');
      check(JSON.parse(shown.body).detail === 'Precondition Failed', `body shown: ${shown.body}`);
      check((await shown.explain.innerText()).includes('RFC 9110 §15.5.13'), 'the 412 explanation does not cite §15.5.13');
      await fillParam(op, 'If-Match', '');
      return `${shown.status}, nothing changed`;
    });

    await step('Range: a 206 of one range and of two (GET /tasks/{id}/attachment)', async () => {
      const op = await openOperation(page, 'download_attachment');
      await fillParam(op, 'task_id', taskId);
      await fillParam(op, 'Range', 'bytes=0-9');
      const one = await send(op);
      expectStatus(one, 206, 'Partial Content');
      const size = UPLOAD_BYTES.length;
      check(one.headers['content-range'] === `bytes 0-9/${size}`, `Content-Range shown: ${one.headers['content-range']}`);
      check(one.body === UPLOAD_BYTES.subarray(0, 10).toString(), `body shown: ${JSON.stringify(one.body)}`);
      await fillParam(op, 'Range', 'bytes=0-4,10-14');
      const two = await send(op);
      expectStatus(two, 206, 'Partial Content');
      check(/^multipart\/byteranges; boundary=/.test(two.headers['content-type'] || ''), `Content-Type shown: ${two.headers['content-type']}`);
      check(two.body && two.body.includes(`Content-Range: bytes 0-4/${size}`) && two.body.includes(`Content-Range: bytes 10-14/${size}`),
        `multipart body shown: ${JSON.stringify((two.body || '').slice(0, 200))}`);
      check((await two.explain.innerText()).includes('RFC 9110 §15.3.7'), 'the 206 explanation does not cite §15.3.7');
      await fillParam(op, 'Range', '');
      return `bytes 0-9 as ${one.headers['content-range']}, then two parts`;
    });

    await step('422 items with their loc explained (GET /tasks/abc)', async () => {
      const op = await openOperation(page, 'get_task');
      await fillParam(op, 'task_id', 'abc');
      expectedErrorStatuses.push(['/tasks/abc', 422]);
      const shown = await send(op);
      expectStatus(shown, 422, 'Unprocessable Content', 'Unprocessable Entity');
      const item = shown.panel.locator('[data-explain] [data-loc-explained]');
      await expectVisible(item, 'the explained 422 item');
      const text = await item.first().innerText();
      check(text.includes('["path","task_id"]') && text.includes('{task_id} segment of the URL path') && text.includes('int_parsing'),
        `the 422 item explanation is "${text}"`);
      return `loc ["path","task_id"] shown as "the {task_id} segment of the URL path"`;
    });

    await step('405 with Allow (PUT on /tasks/{task_id})', async () => {
      const probe = page.locator('details[data-probe="/tasks/{task_id}"]');
      await probe.locator(':scope > summary').click();
      await probe.locator('input[data-param="task_id"]').fill(String(taskId));
      await probe.locator('select[data-probe-method]').selectOption('PUT');
      expectedErrorStatuses.push([`/tasks/${taskId}`, 405]);
      const shown = await send(probe);
      expectStatus(shown, 405, 'Method Not Allowed');
      check(shown.headers.allow === 'GET, HEAD, PATCH, DELETE, OPTIONS', `Allow shown: ${shown.headers.allow}`);
      await expectVisible(shown.panel.locator('[data-explain][data-explain-status="405"]'), 'the explanation of 405');
      return `${shown.status}, Allow: ${shown.headers.allow}`;
    });

    await step('delete the task (DELETE /tasks/{id})', async () => {
      const op = await openOperation(page, 'delete_task');
      await fillParam(op, 'task_id', taskId);
      const shown = await send(op);
      expectStatus(shown, 204, 'No Content');
      check(shown.empty && shown.body === null, 'the page does not show an empty body');
      check(!('content-length' in shown.headers) && !('content-type' in shown.headers),
        `a 204 shown with Content-Length or Content-Type: ${JSON.stringify(shown.headers)}`);
      await expectVisible(shown.panel.locator('[data-explain][data-explain-status="204"]'), 'the explanation of 204');
      return `${shown.status}, empty body, no Content-Type or Content-Length`;
    });

    await step('read it again (GET /tasks/{id})', async () => {
      const op = await openOperation(page, 'get_task');
      await fillParam(op, 'task_id', taskId);
      expectedErrorStatuses.push([`/tasks/${taskId}`, 404]);
      const shown = await send(op);
      expectStatus(shown, 404, 'Not Found');
      const detail = JSON.parse(shown.body).detail;
      check(detail === `Task ${taskId} not found`, `detail shown: ${JSON.stringify(detail)}`);
      const text = await shown.explain.innerText();
      check(text.includes('RFC 9110 §15.5.5'), 'the 404 explanation does not cite RFC 9110 §15.5.5');
      return `${shown.status}, "${detail}"`;
    });

    await step('desktop full-page screenshot', async () => screenshot(page, 'desktop-full.png', { fullPage: true }));

    await step('phone width (390×844): no sideways scrolling, screenshot', async () => {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const mobile = await phone.newPage();
      mobile.setDefaultTimeout(TIMEOUT);
      watch(mobile);
      await mobile.goto(ORIGIN + '/docs', { waitUntil: 'load' });
      await mobile.locator('body[data-ready="true"]').waitFor({ timeout: TIMEOUT });
      if (TOKEN) await mobile.locator('#auth-token').fill(TOKEN);
      const op = mobile.locator('details[data-operation="create_task"]');
      await op.locator(':scope > summary').tap();
      await op.locator('textarea[data-body]').fill(JSON.stringify({ title: title + ' (phone)' }));
      const shown = await send(op);
      expectStatus(shown, 201, 'Created');
      const width = await mobile.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 390, `the page is ${width} px wide at a 390 px viewport`);
      await shown.panel.evaluate((d) => window.scrollTo(0, d.getBoundingClientRect().top + window.scrollY - 8));
      const a = await screenshot(mobile, 'phone.png');
      const b = await screenshot(mobile, 'phone-full.png', { fullPage: true });
      await phone.close();
      return `page width ${width} px; ${a}, ${b}`;
    });

    await step('only this server was asked, and no console error', async () => {
      const problems = [];
      if (offOrigin.length) problems.push(`requests to other origins: ${[...new Set(offOrigin)].join(', ')}`);
      if (pageErrors.length) problems.push(`uncaught errors: ${pageErrors.join(' | ')}`);
      const bad = unexpectedConsoleErrors();
      if (bad.length) problems.push(`console errors: ${bad.map((e) => e.text + (e.url ? ' @ ' + e.url : '')).join(' | ')}`);
      check(problems.length === 0, problems.join('; '));
      const provoked = consoleErrors.length;
      return `every request went to ${ORIGIN}` + (provoked ? ` (${provoked} console line(s) from Chromium for the 4xx the test provoked)` : '');
    });
  } catch (err) {
    if (!(err instanceof StepFailed)) {
      counts.failed += 1;
      console.log('FAIL ' + (err && err.stack ? err.stack : err));
    }
    if (page) await page.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
  } finally {
    await browser.close();
  }
  console.log(`browser test took ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${path.relative(ROOT, SHOTS) || SHOTS}`);
  console.log(`browser: ${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

main().catch((err) => {
  console.log('FAIL ' + (err && err.stack ? err.stack : err));
  console.log(`browser: ${counts.passed} passed, ${counts.failed + 1} failed`);
  process.exit(1);
});
