/**
 * Every type that crosses a boundary: what the REST API answers, what each Moleculer action takes and
 * replies, what an engine thread sends back, what a batch writes. Types only; imports nothing.
 */

// ---------------------------------------------------------------- pages

export type Point = [number, number];
/** Corners top-left, top-right, bottom-right, bottom-left, in pixels of the image as it was sent. */
export type Box = [Point, Point, Point, Point];

export interface OcrWord {
  text: string;
  confidence: number;
  /** Covers the word's glyphs, in whole pixels. */
  box: Box;
}

export interface OcrLine {
  text: string;
  confidence: number;
  box: Box;
  /** The line's words in reading order: joined by single spaces they give `text`. */
  words: OcrWord[];
}

export interface OcrParagraph {
  text: string;
  /** Axis-aligned bounds of the paragraph's lines. */
  box: Box;
  /** Indices into the page's `lines`. */
  lines: number[];
}

/**
 * What a block of the page is: running text, a heading, a figure or table caption, a list (each item a
 * paragraph), a table (read row by row), the text inside a figure (labels, legends: kept here, left
 * out of the page's `text` and markdown), or the page's running header, footer or page number.
 */
export type BlockType = 'text' | 'heading' | 'caption' | 'list' | 'table' | 'figure' | 'header' | 'footer' | 'page_number';

/** A block of the page in reading order: a column's run of text, a heading, a caption, a list, a table. */
export interface OcrBlock {
  type: BlockType;
  /** Axis-aligned bounds of the block's lines. */
  box: Box;
  /** Indices into the page's `lines`. */
  lines: number[];
  /** Indices into the page's `paragraphs`. */
  paragraphs: number[];
}

export interface PageTimings {
  decode_ms: number;
  det_ms: number;
  cls_ms: number;
  rec_ms: number;
  /** Reading order, paragraphs and blocks (src/ocr/stages/layout/). */
  layout_ms: number;
  total_ms: number;
}

/**
 * The OCR of one page image, as an engine returns it; `text` has lines separated by \n and paragraphs by
 * a blank line, in the order of `blocks`, without the text inside figures.
 */
export interface PageOcr {
  width: number;
  height: number;
  /** Clockwise degrees the page was turned to be read upright. */
  rotation: 0 | 90 | 180 | 270;
  text: string;
  lines: OcrLine[];
  paragraphs: OcrParagraph[];
  /** The page's blocks in reading order; their paragraphs, in turn, are `paragraphs` in order. */
  blocks: OcrBlock[];
  avg_confidence: number;
  /** In ms, as measured; a PageResult's are rounded to 0.1 ms (src/jobs/page-result.ts). */
  timings: PageTimings;
}

/** The reply of `ocr.recognize` and `rasterizer.page`, and a page of a job's result. */
export interface PageResult extends PageOcr {
  page_number: number;
  /** Node id of the worker that read the page (of the rasterizer, for a text-layer page). */
  worker: string;
  /** Where the text came from: OCR, or the PDF's own text layer (`text_layer=auto`). */
  source: 'ocr' | 'text_layer';
  /** Resolution a PDF page was rendered at. */
  dpi?: number;
}

// ---------------------------------------------------------------- jobs

/** What a job's result is written as (`output`, `?format=`, `--formats`): see src/outputs/. */
export type OutputFormat = 'json' | 'txt' | 'md' | 'hocr' | 'alto' | 'pdf';

/** How a job's result is written: its format and, for a PDF, whether it is PDF/A-2b. */
export interface OutputOptions {
  output: OutputFormat;
  pdfa: boolean;
}

/** How a PDF job reads its pages (`POST /ocr/pdf` and `POST /jobs` fields, `ocr-cluster batch` flags). */
export interface JobOptions {
  /** Resolution the pages are rendered at. */
  dpi: number;
  /** `auto`: a page with a usable text layer takes its text from it instead of OCR. */
  text_layer: 'auto' | 'ocr';
  /** The pages' language, one the cluster's workers advertise: picks their recogniser. None: each worker's default one. */
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

/**
 * The `job.stopped` event: a job was cancelled or ran out of time. Its pages already sent to a worker
 * and waiting there for an engine are dropped, not read (see src/broker/page-scheduler.ts).
 */
export interface JobStoppedEvent {
  job_id: string;
}

/** A job's progress: the reply of `POST /jobs`, `GET /jobs/:id`, the `job.progress` event. */
export interface JobProgress {
  job_id: string;
  status: JobStatus;
  filename: string;
  /** What `GET /jobs/:id/result` answers without `?format=`. */
  output: OutputFormat;
  total_pages: number;
  pages_done: number;
  pages_failed: number;
  /** Set once the job has ended. */
  finished: boolean;
  /** Why the whole job failed, when it did not fail page by page (JOB_INTERRUPTED, JOB_TIMEOUT). */
  error?: { code: string; message: string };
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

/** The reply of the OCR endpoints and of `aggregator.result`. */
export interface JobResult {
  metrics: JobMetrics;
  results: PageResult[];
  combined_text: string;
  combined_markdown: string;
}

/**
 * A job's result with each page as the JSON text the job store keeps it in (JSON.stringify of the
 * PageResult): what the JSON output and the searchable PDF's writer are sent, so the pages of a long
 * document are not all made objects again at once.
 */
export interface SerializedJobResult extends Omit<JobResult, 'results'> {
  results: string[];
}

// ---------------------------------------------------------------- actions: ocr (ocr-worker)

/** Size of a decoded page whose grey or RGB bytes, row-major, come in the call's stream. */
export interface RasterShape {
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * `ocr.recognize`'s params. The page's bytes come in the call's stream (`{ stream }` in the call
 * options): an encoded image (PNG, JPEG, WebP, TIFF), or, when `raster` gives their shape, decoded
 * pixels. Replies a PageResult.
 */
export interface RecognizeParams {
  page_number: number;
  raster?: RasterShape;
  /** The page's language: picks the recogniser; none: the worker's default one. */
  language?: string;
}

/** The likeliest class at each timestep of a recognition batch and its probability: all that greedy CTC decoding reads. */
export interface StepMaxima {
  best: Int32Array;
  prob: Float32Array;
}

/**
 * Idle engines that can read recognition batches of another engine's page: other engines of the pool
 * (src/ocr/engine-pool.ts), or engines on other workers (`ocr.readBatch`, src/broker/batch-lending.ts).
 */
export interface BatchHelper {
  /** Whether an engine is free to take a batch now. */
  free(): boolean;
  /** Reads a packed batch there; undefined when it could not after all. The input is handed over (transferred). */
  read(input: Float32Array<ArrayBuffer>, dims: number[]): Promise<StepMaxima | undefined>;
}

/**
 * `ocr.readBatch`'s params: a recognition batch packed by an engine on another worker, its float32
 * values (`dims`: lines, channels, height, width) in the call's stream. Replies its StepMaxima, or
 * null when no engine of this worker is free (the sender then reads the batch itself).
 */
export interface ReadBatchParams {
  dims: number[];
  /** The recogniser it was packed for: its model file and dictionary (src/ocr/engine.ts, recogniserId). */
  recogniser: string;
}

/**
 * The `ocr.idle` event: a worker's engines with no page to read, sent to every node when that number
 * changes, and the recognisers they have (ReadBatchParams).
 */
export interface IdleEnginesEvent {
  engines: number;
  recognisers: string[];
}

/**
 * `ocr.embed`'s params, on a worker started with EMBED_MODEL: texts to turn into sentence vectors.
 * A caller sends a few dozen at a time (src/broker/embed-call.ts), so a reply stays far below one
 * NATS message.
 */
export interface EmbedParams {
  texts: string[];
}

/** `ocr.embed`'s reply: one vector of length 1 per text, in order, and the model they come from (`<file>@<sha256 prefix>`). */
export interface EmbedReply {
  model: string;
  vectors: Float32Array[];
}

/** What a worker that embeds says of it in its service metadata (`metadata.embed`), for callers to pick a model. */
export interface EmbedMetadata {
  model: string;
}

/** A CPU as the engines see it: its model name and the flags that decide how the int8 models compute. */
export interface CpuInfo {
  model: string;
  /** Those of avx2, avx512f, avx512_vnni, avx_vnni, amx_int8 (x86) and asimddp, i8mm (ARM) it has. */
  features: string[];
}

/** What an engine (or a pool of them) says about itself. */
export interface EngineInfo {
  /** Each model's file, and how it computes ('int8 (8-bit weights)', or 'float32' and why). */
  models: { det: string; rec: string; cls: string };
  /** Each language read, with the recogniser that reads it (its file and how it computes). */
  languages: Record<string, string>;
  /** Intra-op threads of each inference. */
  threads: number;
  /** Engines reading pages at once, each in a thread of its own (EnginePool); 1 for a lone engine. */
  engines: number;
  /** The CPU the engines run on: its features decide the int8 weights' bits. */
  cpu: CpuInfo;
}

/** A worker's live health: the reply of `ocr.health`, listed by `GET /workers/status`. */
export interface WorkerHealth extends EngineInfo {
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
  /** Recognition batches its idle engines read for pages on other workers (`ocr.readBatch`). */
  batches_read_for_others: number;
  errors: number;
  slots: number;
  /** Pages held past the time their senders stopped waiting (an engine that hangs): such a worker is listed `unhealthy`. */
  stuck: number;
}

/** Whether pages go to a worker: `open` after its engine kept failing, `half_open` while one trial page tests it. */
export type WorkerCircuit = 'closed' | 'open' | 'half_open';

/** `GET /workers/status` and `gateway.workers`: every OCR worker the cluster knows, with its live health when it answers. */
export interface WorkersStatus {
  total_workers: number;
  healthy_workers: number;
  /** `unhealthy`: it answers, but holds pages past their time limit (`stuck`). */
  workers: (Partial<WorkerHealth> & { node_id: string; status: 'healthy' | 'unhealthy' | 'unreachable'; circuit: WorkerCircuit })[];
}

// ---------------------------------------------------------------- actions: rasterizer

/** `rasterizer.open`: an uploaded PDF on the node that runs the action. */
export interface OpenParams {
  path: string;
  password?: string;
}

/** `rasterizer.open`'s reply: the document stays open on `node_id` until `rasterizer.close`. */
export interface OpenedDocument {
  doc_id: string;
  pages: number;
  node_id: string;
}

/** `rasterizer.page`: one page of an open document, read by OCR or from its text layer. Replies a PageResult. */
export interface PageParams {
  doc_id: string;
  page: number;
  dpi: number;
  text_layer: 'auto' | 'ocr';
  language?: string;
}

/** How a page read is shown to people: `GET /jobs/:id/pages/:n/image?width=&format=`. */
export interface PageImageOptions {
  /** Pixels wide; never more than the kept image (at most 1400 px on its longest side). */
  width?: number;
  format: 'jpeg' | 'png';
}

/** `rasterizer.pageImage`: a page of a document this node opened, as an image; replies its bytes (a Buffer). */
export interface PageImageParams extends PageImageOptions {
  doc_id: string;
  page: number;
}

/** `rasterizer.close`: closes the document and deletes its upload, unless kept for a searchable PDF written later. */
export interface CloseParams {
  doc_id: string;
  /** Keep the upload (until a later `close` without it); calling `close` again on a closed document deletes it. */
  keep_upload?: boolean;
}

/**
 * `rasterizer.pdf`: the searchable PDF of a document this node holds (open, or closed with its upload
 * kept), written here where its bytes are. The job's JobResult comes as JSON in the call's stream
 * (it can be larger than one NATS message); the reply is the PDF as a stream.
 */
export interface PdfParams {
  doc_id: string;
  pdfa: boolean;
}

export interface CloseReply {
  /** False when the document was not open (any more). */
  closed: boolean;
}

// ---------------------------------------------------------------- actions: aggregator

/** `aggregator.submit`: starts a job on an uploaded PDF; replies its JobProgress at once. */
export interface SubmitParams extends JobOptions, OutputOptions {
  /**
   * Keep the upload after the pages are read, until the job is forgotten, so that a searchable PDF can
   * be written later (the REST API's jobs); a file job's caller has the file itself.
   */
  keep_upload: boolean;
  /** The upload, on the node `node_id`. */
  path: string;
  node_id: string;
  filename: string;
  file_size_bytes: number;
}

/**
 * The API key a request came with, as the gateway's authenticate hook puts it in `ctx.meta.user` when
 * API_KEYS is set: a job belongs to the key that created it, and only that key (or an admin key) may see
 * it. The key itself never leaves the gateway: `key` is its fingerprint (a hash).
 */
export interface ApiCaller {
  key: string;
  /** An ADMIN_API_KEYS key: sees and cancels every job. */
  admin: boolean;
}

/** The meta of calls to the aggregator's job actions: no `user` (keys off, or an internal caller) sees every job. */
export interface CallerMeta {
  user?: ApiCaller | null;
  /** The job a page call belongs to (set by the aggregator), for the log lines of the nodes it reaches. */
  job_id?: string;
}

/** `aggregator.status` and `aggregator.cancel` (reply: JobProgress). */
export interface JobIdParams {
  id: string;
}

/** `aggregator.page`: page `page` of a job, once read; replies its PageResult. */
export interface JobPageParams extends JobIdParams {
  page: number;
}

/** `aggregator.pageImage`: page `page` of a job, once read, as an image; replies its bytes (a Buffer). */
export interface JobPageImageParams extends JobPageParams, PageImageOptions {}

/** `aggregator.result`: the finished job's JobResult; with `wait`, after waiting for the job to end. */
export interface ResultParams extends JobIdParams {
  wait?: boolean;
}

/**
 * `aggregator.output`: the finished job's result written as `format`, as a stream (a result can be
 * larger than one NATS message); the searchable PDF is written on the node that holds the upload.
 */
export interface OutputParams extends ResultParams {
  format: OutputFormat;
  /** PDF/A-2b; the job's own `pdfa` option when not given. */
  pdfa?: boolean;
}

// ---------------------------------------------------------------- actions: gateway

/** `GET /health` (`gateway.health`): 200 with `ok`, or 503 with `degraded` while no OCR worker is ready. */
export interface GatewayHealth {
  status: 'ok' | 'degraded';
  node_id: string;
  uptime_seconds: number;
  memory_mb: number;
  ocr_workers: number;
}

/** Every error a client sees. */
export interface ErrorBody {
  error: { code: string; message: string; page?: number };
}

// ---------------------------------------------------------------- batch

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
  /** Where the document's outputs were written (`<output>.json` and the other formats), relative to the output folder. */
  output?: string;
  error?: { code: string; message: string };
}

// ---------------------------------------------------------------- search

/** Anything that turns texts into vectors: the local Embedder, or (in a cluster) `ocr.embed` on a worker that has the model. */
export interface TextEmbedder {
  /** Names the vector space: the index compares it with the model its vectors came from. */
  readonly id: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** A passage found by a search (`GET /search`, `ocr-cluster search`). */
export interface SearchHit extends Omit<TextChunk, 'chunk_id'> {
  /** The text with the query's words between the marks (`<mark>` and `</mark>` in the API). */
  marked: string;
  /** Where the query's words are in `text`: [start, end) in UTF-16 code units. */
  matches: [number, number][];
  /** Higher is better: the fused reciprocal ranks (hybrid), or BM25's relevance (BM25 alone). */
  score: number;
  /** The passage's rank (from 1) in the BM25 list and in the vector list, when it is in them. */
  ranks: { bm25?: number; vector?: number };
  /** Pixel size of each of `pages` as read: the frame of `boxes`. */
  page_sizes: { page: number; width: number; height: number }[];
}

export interface SearchResult {
  /** `hybrid`: BM25 and vectors fused by reciprocal rank; `bm25`: words alone. */
  ranking: 'hybrid' | 'bm25';
  /** Why vectors were not used, when they were not. */
  reason?: string;
  hits: SearchHit[];
}

/** The body of `GET /search` and of `ocr-cluster search --json`. */
export interface SearchReply extends SearchResult {
  query: string;
  k: number;
}
