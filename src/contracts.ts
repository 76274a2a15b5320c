/** What crosses a boundary: page results, job results and metrics, error bodies. */

export type Point = [number, number];
/** Corners top-left, top-right, bottom-right, bottom-left, in pixels of the image as it was sent. */
export type Box = [Point, Point, Point, Point];

export interface OcrLine {
  text: string;
  confidence: number;
  box: Box;
}

export interface OcrParagraph {
  text: string;
  /** Axis-aligned bounds of the paragraph's lines. */
  box: Box;
  /** Indices into the page's `lines`. */
  lines: number[];
}

export interface PageTimings {
  decode_ms: number;
  det_ms: number;
  cls_ms: number;
  rec_ms: number;
  total_ms: number;
}

/** The OCR of one page image; `text` has lines separated by \n and paragraphs by a blank line. */
export interface PageOcr {
  width: number;
  height: number;
  /** Clockwise degrees the page was turned to be read upright. */
  rotation: 0 | 90 | 180 | 270;
  text: string;
  lines: OcrLine[];
  paragraphs: OcrParagraph[];
  avg_confidence: number;
  timings: PageTimings;
}

/** The reply of `ocr.recognize`, and a page of a job's result. */
export interface PageResult extends PageOcr {
  page_number: number;
  /** Node id of the worker that read the page (of the rasterizer, for a text-layer page). */
  worker: string;
  /** Where the text came from: OCR, or the PDF's own text layer (`text_layer=auto`). */
  source: 'ocr' | 'text_layer';
  /** Resolution a PDF page was rendered at. */
  dpi?: number;
}

/** How a PDF job reads its pages (`POST /ocr/pdf` and `POST /jobs` fields, `ocr-cluster batch` flags). */
export interface JobOptions {
  /** Resolution the pages are rendered at. */
  dpi: number;
  /** `auto`: a page with a usable text layer takes its text from it instead of OCR. */
  text_layer: 'auto' | 'ocr';
  language?: string;
  /** For an encrypted PDF. */
  password?: string;
}

export type JobStatus = 'queued' | 'running' | 'success' | 'partial_success' | 'failed' | 'cancelled';

export interface PageError {
  page: number;
  code: string;
  message: string;
}

export interface WorkerMetrics {
  pages: number;
  total_ms: number;
  avg_ms: number;
  errors: number;
}

export interface JobMetrics {
  job_id: string;
  filename: string;
  total_pages: number;
  pages_processed: number;
  pages_failed: number;
  total_words: number;
  total_chars: number;
  total_lines: number;
  avg_confidence: number;
  start_time: string;
  end_time: string;
  total_duration_ms: number;
  avg_page_time_ms: number;
  file_size_bytes: number;
  file_size_mb: number;
  /** Pages read per worker node. */
  ocr_rounds_per_worker: Record<string, number>;
  worker_metrics: Record<string, WorkerMetrics>;
  /** Pages whose text came from the PDF's own text layer instead of OCR. */
  text_layer_pages: number[];
  status: JobStatus;
  errors: PageError[];
}

/** The reply of the OCR endpoints. */
export interface JobResult {
  metrics: JobMetrics;
  results: PageResult[];
  combined_text: string;
  combined_markdown: string;
}

/** A worker's live health, as `ocr.health` reports it and `GET /workers/status` lists it. */
/** Size of a decoded page whose grey or RGB bytes, row-major, come in the call's stream. */
export interface RasterShape {
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * One page. Its bytes come in the call's stream (`{ stream }` in the call options): an encoded image
 * (PNG, JPEG, WebP, TIFF), or, when `raster` gives their shape, decoded pixels.
 */
/** `ocr.recognize`'s params. */
export interface RecognizeParams {
  page_number: number;
  raster?: RasterShape;
}

export interface WorkerHealth {
  node_id: string;
  host: string;
  pid: number;
  uptime_seconds: number;
  /** CPU used by this process since the previous report, as a share of the whole machine. */
  cpu_percent: number;
  memory_mb: number;
  memory_percent: number;
  total_requests: number;
  /** Pages being read now, and pages waiting in this worker's bulkhead queue. */
  in_flight: number;
  queued: number;
  pages_done: number;
  errors: number;
  slots: number;
  threads: number;
  models: { det: string; rec: string; cls: string };
}

/** Whether pages go to a worker: `open` after its engine kept failing, `half_open` while one trial page tests it. */
export type WorkerCircuit = 'closed' | 'open' | 'half_open';

/** `GET /workers/status`: every OCR worker the cluster knows, with its live health when it answers. */
export interface WorkersStatus {
  total_workers: number;
  healthy_workers: number;
  workers: (Partial<WorkerHealth> & { node_id: string; status: 'healthy' | 'unreachable'; circuit: WorkerCircuit })[];
}

export interface ErrorBody {
  error: { code: string; message: string; page?: number };
}

/** A passage of a document for an embedding model (`ocr-cluster batch --chunks`). */
export interface TextChunk {
  /** `<document>#<chunk_index>`. */
  chunk_id: string;
  /** The input file, relative to the batch's input folder. */
  document: string;
  chunk_index: number;
  text: string;
  pages: number[];
  /** The paragraph boxes the text came from, in pixels of their page image. */
  boxes: { page: number; box: Box }[];
}

export type DocumentStatus = 'success' | 'partial_success' | 'failed';

/** A line of a batch's `manifest.jsonl`: one document, as it ended in one run. */
export interface ManifestEntry {
  /** The input file, relative to the input folder (absolute for a list file's absolute paths). */
  path: string;
  size: number;
  sha256: string;
  pages: number;
  pages_failed: number;
  status: DocumentStatus;
  duration_ms: number;
  finished_at: string;
  /** Where the document's `.json`, `.txt` and `.md` were written, relative to the output folder. */
  output?: string;
  error?: { code: string; message: string };
}
