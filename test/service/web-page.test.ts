/**
 * The web page at `/`, end to end in Debian's headless Chromium against the one-process server with
 * API keys and CORS origins on: what a person sees after dropping files on it. One server and one browser for the file;
 * each test opens a new tab (a new sessionStorage, so the page asks for the key again).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import type { JobResult, PageResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { launchBrowser } from '../helpers/browser.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage, type DrawnWord } from '../helpers/render.ts';

const KEY = 'web-page-test-key';
const PAGES = [['Alpha page one of the report'], ['Kestrel migration notes', 'second line here'], ['Third page closing words']];

let server: ChildProcess & { output: string[] };
let base: string;
let browser: { context: BrowserContext; close: () => Promise<void> };
const tempDir = mkdtempSync(join(tmpdir(), 'ocr-web-test-'));
let threePages: Buffer;
/** Page 2's words as drawn, with their ink boxes in the pixels of the 1200 px wide page image. */
let page2Words: DrawnWord[];
/** URLs the browser asked for, to check the key never travels in one. */
const urls: string[] = [];

beforeAll(async () => {
  const rendered = PAGES.map((lines) => renderPage({ paragraphs: [lines] }));
  page2Words = rendered[1]!.words;
  threePages = await buildPdf(rendered.map((r) => ({ png: r.image })));
  // CORS_ORIGINS names another site: the page's own requests are not cross-origin and must pass.
  ({ server, base } = await startServer({ API_KEYS: KEY, CORS_ORIGINS: 'https://app.example', TEMP_DIR: tempDir }));
  browser = await launchBrowser();
  browser.context.on('request', (req) => urls.push(req.url()));
});

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  rmSync(tempDir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${KEY}`, ...init.headers } });
}

/** A new tab on the page, the key given when it asks, the workers listed. */
async function openPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(base);
  await page.getByLabel(/wants an API key/).fill(KEY);
  await page.getByRole('button', { name: 'Use this key' }).click();
  await page.locator('#workers-summary', { hasText: '1 of 1 workers healthy' }).waitFor();
  return page;
}

function pick(page: Page, name: string, buffer: Buffer, mimeType = 'application/pdf') {
  return page.setInputFiles('#file-input', { name, mimeType, buffer });
}

const card = (page: Page, filename: string) => page.locator('li.job', { has: page.getByRole('heading', { name: filename, exact: true }) });

async function jobIdOf(page: Page, filename: string): Promise<string> {
  const id = await card(page, filename).getAttribute('data-job-id', { timeout: 30_000 });
  assert.ok(id);
  return id;
}

test("a 3-page PDF: progress to 3/3, page 2 with its word boxes over the words, the text download equals the API's", async () => {
  const page = await openPage();
  await pick(page, 'three-pages.pdf', threePages);
  await page.getByLabel('Resolution (dpi)').fill('200');
  await page.getByRole('button', { name: 'Read the files' }).click();
  const job = card(page, 'three-pages.pdf');
  await job.locator('.status', { hasText: 'success: 3 / 3 pages' }).waitFor({ timeout: 120_000 });
  assert.equal(await job.locator('progress').getAttribute('max'), '3');
  assert.equal(await job.locator('progress').evaluate((p: HTMLProgressElement) => p.value), 3);
  const id = await jobIdOf(page, 'three-pages.pdf');

  // Page 2 in the viewer.
  await job.getByRole('button', { name: 'View the pages of three-pages.pdf' }).click();
  await page.locator('#viewer[data-page="1"]').waitFor();
  await page.getByLabel('Page', { exact: true }).selectOption('2');
  await page.locator('#viewer[data-page="2"]').waitFor();
  await page.locator('#page-image').evaluate((img: HTMLImageElement) => img.decode());
  const read = (await (await api(`/jobs/${id}/pages/2`)).json()) as PageResult;
  assert.equal(await page.locator('#out-text').textContent(), read.text);

  // The word's box is drawn where the API says it is and where the word was drawn on the page.
  const word = read.lines.flatMap((l) => l.words).find((w) => w.text === 'Kestrel');
  assert.ok(word, `no word Kestrel in ${read.text}`);
  // Where the browser put them (the geometry, without the stroke's width).
  const rect = (selector: string) =>
    page.locator(selector).evaluate((el) => el.getBoundingClientRect().toJSON() as { x: number; y: number; width: number; height: number });
  const img = await rect('#page-image');
  const drawn = await rect('polygon.word-box[data-text="Kestrel"]');
  const scale = img.width / read.width;
  assert.ok(Math.abs(img.height - read.height * scale) < 2, 'the image shows the whole page');
  const near = (a: number, b: number, tolerance: number, what: string) => assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b}`);
  near(drawn.x, img.x + word.box[0][0] * scale, 1.5, 'left edge vs the API');
  near(drawn.y, img.y + word.box[0][1] * scale, 1.5, 'top edge vs the API');
  near(drawn.x + drawn.width, img.x + word.box[2][0] * scale, 1.5, 'right edge vs the API');
  const ink = page2Words.find((w) => w.text === 'Kestrel')!.box;
  const inkScale = img.width / 1200; // the page image the PDF was made of is 1200 px wide
  near(drawn.x, img.x + ink[0][0] * inkScale, 3, 'left edge vs the ink');
  near(drawn.y + drawn.height, img.y + ink[2][1] * inkScale, 3, 'bottom edge vs the ink');
  near(drawn.x + drawn.width, img.x + ink[2][0] * inkScale, 3, 'right edge vs the ink');
  // And the image shown is that page: ink inside the box, paper below the text.
  const shown = Buffer.from(await (await api(`/jobs/${id}/pages/2/image?format=png&width=${read.width}`)).arrayBuffer());
  const inkShare = async (left: number, top: number, width: number, height: number) => {
    const area = { left: Math.round(left), top: Math.round(top), width: Math.round(width), height: Math.round(height) };
    const grey = await sharp(shown).extract(area).greyscale().raw().toBuffer();
    return grey.filter((v) => v < 128).length / grey.length;
  };
  const factor = (await sharp(shown).metadata()).width / read.width;
  const [x0, y0] = word.box[0],
    [x1, y1] = word.box[2];
  const inBox = await inkShare(x0 * factor, y0 * factor, (x1 - x0) * factor, (y1 - y0) * factor);
  const below = await inkShare(x0 * factor, (y1 + 200) * factor, (x1 - x0) * factor, (y1 - y0) * factor);
  assert.ok(inBox > 0.15 && below === 0, `ink in the box (${inBox}), paper below it (${below})`);

  // Hovering the line shows its text and confidence.
  // Words lie over their line: the pointer lands on one, inside the line.
  await page.locator('g.line[data-line="0"] polygon.line-box').hover({ force: true });
  const tip = await page.locator('#box-tip').textContent();
  assert.match(tip!, new RegExp(`^${read.lines[0]!.text}\\s+\\(\\d+(\\.\\d)? %\\)`));
  // Lines are framed by confidence, and the paragraphs (or blocks) numbered in reading order.
  assert.equal(await page.locator('polygon.line-box').count(), read.lines.length);
  assert.equal(await page.locator('polygon.line-box.conf-high').count(), read.lines.filter((l) => l.confidence >= 0.9).length);
  expect(await page.locator('text.order').allTextContents()).toEqual(
    ((read as { blocks?: unknown[] }).blocks ?? read.paragraphs).map((_, i) => String(i + 1)),
  );

  // Downloads: the text as /result gives it, the JSON as /result.
  const result = (await (await api(`/jobs/${id}/result`)).json()) as JobResult;
  const asText = await api(`/jobs/${id}/result?format=txt`);
  const expectedText = asText.headers.get('content-type')?.startsWith('text/plain') ? await asText.text() : result.combined_text;
  const downloaded = async (label: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), job.getByRole('button', { name: label }).click()]);
    return readFileSync(await file.path(), 'utf8');
  };
  assert.equal(await downloaded('Download Text'), expectedText);
  expect(JSON.parse(await downloaded('Download JSON'))).toEqual(result);
  assert.ok(urls.length > 10 && urls.every((u) => !u.includes(KEY)), 'the key is never in a URL');
  await page.close();
});

test('cancel stops a running job and the page says so', async () => {
  const scan = renderPage({ paragraphs: [['A page of a long scanned document']] }).image;
  const long = await buildPdf(Array.from({ length: 12 }, () => ({ png: scan })));
  const page = await openPage();
  await pick(page, 'long.pdf', long);
  await page.getByRole('button', { name: 'Read the files' }).click();
  const job = card(page, 'long.pdf');
  await job.locator('.status', { hasText: /running: [1-9]\d* \/ 12 pages/ }).waitFor({ timeout: 120_000 });
  assert.match((await job.locator('.stats').textContent())!, /pages\/min, about \d+:\d\d left/);
  await job.getByRole('button', { name: 'Cancel long.pdf' }).click();
  await job.locator('.status', { hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
  const id = await jobIdOf(page, 'long.pdf');
  const progress = await (await api(`/jobs/${id}`)).json();
  assert.equal(progress.status, 'cancelled');
  assert.ok(progress.pages_done < 12);
  assert.equal(await job.getByRole('button', { name: 'Cancel long.pdf' }).count(), 0);
  await page.close();
});

test("a file that is not a PDF or an image shows the API's error message", async () => {
  const bytes = Buffer.from('Just some notes, not a document.\n');
  const body = new FormData();
  body.append('file', new Blob([bytes]), 'notes.pdf');
  const answer = await (await api('/jobs', { method: 'POST', body })).json();
  assert.equal(answer.error.code, 'UNSUPPORTED_MEDIA');
  const page = await openPage();
  await pick(page, 'notes.pdf', bytes);
  await page.getByRole('button', { name: 'Read the files' }).click();
  const message = card(page, 'notes.pdf').getByRole('alert');
  await message.filter({ hasText: answer.error.message }).waitFor();
  assert.equal(await message.textContent(), `${answer.error.message} (UNSUPPORTED_MEDIA)`);
  await page.close();
});

test("the page's own origin is not held to CORS_ORIGINS; other origins still are", async () => {
  const own = await api('/workers/status', { method: 'GET', headers: { Origin: base } });
  assert.equal(own.status, 200);
  const other = await api('/workers/status', { headers: { Origin: 'https://evil.example' } });
  assert.ok(other.status >= 400, `another origin: ${other.status}`);
});

test('400 px wide: an image read and looked at without sideways scrolling', async () => {
  const { image } = renderPage({ paragraphs: [['Narrow screens read too']] });
  const page = await openPage({ width: 400, height: 800 });
  await pick(page, 'phone.png', image, 'image/png');
  await page.getByRole('button', { name: 'Read the files' }).click();
  const job = card(page, 'phone.png');
  await job.locator('.status', { hasText: 'success: 1 / 1 pages' }).waitFor({ timeout: 120_000 });
  await job.getByRole('button', { name: 'View the pages of phone.png' }).click();
  await page.locator('#viewer[data-page="1"]').waitFor();
  await page.locator('#page-image').evaluate((img: HTMLImageElement) => img.decode());
  assert.equal(await page.locator('#out-text').textContent(), 'Narrow screens read too');
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    image: document.getElementById('page-image')!.getBoundingClientRect().width,
  }));
  assert.ok(widths.page <= 400, `the page is ${widths.page} px wide`);
  assert.ok(widths.image > 300 && widths.image <= 400, `the page image is ${widths.image} px wide`);
  for (const name of ['Download Text', 'Read the files', 'Next page']) {
    const box = (await page.getByRole('button', { name, exact: true }).first().boundingBox())!;
    assert.ok(box.x >= 0 && box.x + box.width <= 400, `${name} fits`);
  }
  await page.close();
});

test('keyboard: tab reaches the file input, the options and the main buttons; Enter opens a page', async () => {
  const page = await openPage();
  await card(page, 'three-pages.pdf').getByRole('button', { name: 'Download Text' }).waitFor(); // kept jobs are listed again
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const reached: string[] = [];
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    reached.push(
      await page.evaluate(() => {
        const el = document.activeElement!;
        return el.id || el.getAttribute('aria-label') || el.textContent.trim();
      }),
    );
  }
  const order = ['file-input', 'dpi', 'text-layer', 'start', 'View the pages of three-pages.pdf'];
  const at = order.map((name) => reached.indexOf(name));
  assert.ok(
    at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)),
    `focus order: ${reached.join(' | ')}`,
  );
  assert.ok(reached.includes('Download Text'), reached.join(' | '));
  await page.getByRole('button', { name: 'View the pages of three-pages.pdf' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#viewer[data-page="1"]').waitFor();
  await page.close();
});
