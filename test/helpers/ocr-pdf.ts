/** A PDF read page by page as a job reads it (rendered by the rasterizer, read by the engine), in one process. */
import type { JobResult, PageResult } from '../../src/contracts.ts';
import { ocrPageResult, renderedPageResult } from '../../src/jobs/page-result.ts';
import { buildJobResult } from '../../src/jobs/results.ts';
import type { OcrEngine } from '../../src/ocr/engine.ts';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';

export async function ocrPdf(
  engine: OcrEngine,
  pdf: Uint8Array,
  dpi: number,
  options: { password?: string; filename?: string } = {},
): Promise<JobResult> {
  const start = new Date();
  const doc = await PdfDocument.open(Uint8Array.from(pdf), { password: options.password });
  const pages: PageResult[] = [];
  try {
    for (let n = 1; n <= doc.pageCount; n++) {
      const rendered = await doc.render(n, dpi, 50_000_000);
      const page = await engine.recognizeRaster(rendered.raster);
      pages.push(renderedPageResult(ocrPageResult(n, page, 'test'), rendered.dpi, 0));
    }
  } finally {
    await doc.close();
  }
  const facts = {
    job_id: 'test-job',
    filename: options.filename ?? 'test.pdf',
    file_size_bytes: pdf.length,
    total_pages: pages.length,
    start,
    end: new Date(),
  };
  return buildJobResult(facts, pages, []);
}
