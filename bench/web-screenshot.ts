/**
 * The screenshot of the web page in docs/ (`node bench/web-screenshot.ts docs/web-page.png`): a
 * one-process server on a free port reads a two-page PDF made here, and Debian's Chromium shows its
 * first page with the boxes, a line hovered.
 */
import sharp from 'sharp';
import { startServer, stopProcess } from '../harness/processes.ts';
import { launchBrowser } from '../test/helpers/browser.ts';
import { buildPdf } from '../test/helpers/pdf.ts';
import { ENGLISH_PARAGRAPHS, renderPage } from '../test/helpers/render.ts';

const out = process.argv[2] ?? 'docs/web-page.png';
const { server, base } = await startServer();
const browser = await launchBrowser();
try {
  const report = [
    ['Quarterly report, third quarter'],
    ['Revenue grew 12% to $4.2 million, led by the', 'archive services, which doubled their share.'],
    ['Shipping resumed on 14 September after the', 'warehouse move was completed, two weeks late.'],
    ['Three new customers signed for the scanning', 'service; two of them are public libraries.'],
    ['Costs rose 4%: the new building, and the', 'second shift that cleared the backlog.'],
  ];
  const pages = [
    renderPage({ paragraphs: report, width: 1100, height: 620, fontSize: 32 }),
    renderPage({ paragraphs: ENGLISH_PARAGRAPHS, columns: 2, width: 1240, height: 900 }),
  ];
  const pdf = await buildPdf(pages.map((p) => ({ png: p.image })));
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1100, height: 1000 });
  await page.goto(base);
  await page.setInputFiles('#file-input', { name: 'quarterly-report.pdf', mimeType: 'application/pdf', buffer: pdf });
  await page.getByRole('button', { name: 'Read the files' }).click();
  await page.locator('.status', { hasText: 'success' }).waitFor({ timeout: 300_000 });
  await page.getByRole('button', { name: /View the pages/ }).click();
  await page.locator('#viewer[data-page="1"]').waitFor();
  await page.locator('#page-image').evaluate((img: HTMLImageElement) => img.decode());
  await page.locator('g.line[data-line="3"] polygon.line-box').hover({ force: true });
  // From the job list to the end of the viewer.
  const [top, bottom] = await page.evaluate(() => [
    document.getElementById('jobs-title')!.getBoundingClientRect().top + scrollY - 8,
    document.getElementById('viewer')!.getBoundingClientRect().bottom + scrollY + 8,
  ]);
  const shot = await page.screenshot({ fullPage: true, clip: { x: 0, y: top, width: 1100, height: bottom - top } });
  await sharp(shot).png({ palette: true, colours: 128 }).toFile(out);
  console.log(
    `${out}: ${JSON.stringify(
      await sharp(out)
        .metadata()
        .then((m) => [m.width, m.height, m.size]),
    )}`,
  );
} finally {
  await browser.close();
  await stopProcess(server);
}
