/**
 * The OpenAPI 3.1 description of the REST API, served at `GET /openapi.json`. Written by hand beside
 * the types of src/contracts.ts it describes; test/service/openapi.test.ts checks real answers of
 * every route against it (objects allow no property it does not name). Error codes and statuses come
 * from the taxonomy itself.
 */
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** An object whose properties are all given; `optional` ones may be missing. */
function object(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((p) => !optional.includes(p)),
    additionalProperties: false,
  };
}

const int = { type: 'integer' };
const num = { type: 'number' };
const str = { type: 'string' };
const bool = { type: 'boolean' };
const counts = (values: Schema): Schema => ({ type: 'object', additionalProperties: values });
const list = (items: Schema): Schema => ({ type: 'array', items });

const POINT: Schema = { type: 'array', prefixItems: [int, int], items: false, minItems: 2 };
const JOB_STATUS = { enum: ['queued', 'running', 'success', 'partial_success', 'failed', 'cancelled'] };

const SCHEMAS: Record<string, Schema> = {
  Box: {
    description: 'Corners top-left, top-right, bottom-right, bottom-left, in whole pixels of the page image (as rendered, for a PDF page)',
    type: 'array',
    prefixItems: [POINT, POINT, POINT, POINT],
    items: false,
    minItems: 4,
  },
  Word: object({ text: str, confidence: num, box: ref('Box') }),
  Line: object({ text: str, confidence: num, box: ref('Box'), words: list(ref('Word')) }),
  Paragraph: object({ text: str, box: ref('Box'), lines: list(int) }),
  Block: object({
    type: { enum: ['text', 'heading', 'caption', 'list', 'table', 'figure', 'header', 'footer', 'page_number'] },
    box: ref('Box'),
    lines: list(int),
    paragraphs: list(int),
  }),
  Timings: object({ decode_ms: num, det_ms: num, cls_ms: num, rec_ms: num, layout_ms: num, total_ms: num }),
  PageResult: object(
    {
      page_number: int,
      width: int,
      height: int,
      rotation: { enum: [0, 90, 180, 270] },
      text: str,
      lines: list(ref('Line')),
      paragraphs: list(ref('Paragraph')),
      blocks: list(ref('Block')),
      avg_confidence: num,
      timings: ref('Timings'),
      worker: { description: 'Node id of the worker that read the page (of the rasterizer, for a text-layer page)', type: 'string' },
      source: { enum: ['ocr', 'text_layer'] },
      dpi: num,
    },
    ['dpi'],
  ),
  PageError: object({ page: int, code: str, message: str }),
  JobMetrics: object({
    job_id: str,
    filename: str,
    total_pages: int,
    pages_processed: int,
    pages_failed: int,
    total_words: int,
    total_chars: int,
    total_lines: int,
    avg_confidence: num,
    start_time: { type: 'string', format: 'date-time' },
    end_time: { type: 'string', format: 'date-time' },
    total_duration_ms: num,
    avg_page_time_ms: num,
    file_size_bytes: int,
    file_size_mb: num,
    ocr_rounds_per_worker: counts(int),
    worker_metrics: counts(object({ pages: int, total_ms: num, avg_ms: num, errors: int })),
    text_layer_pages: list(int),
    status: JOB_STATUS,
    errors: list(ref('PageError')),
  }),
  JobResult: object({ metrics: ref('JobMetrics'), results: list(ref('PageResult')), combined_text: str, combined_markdown: str }),
  JobProgress: object(
    {
      job_id: str,
      status: JOB_STATUS,
      filename: str,
      output: { enum: ['json', 'txt', 'md', 'hocr', 'alto', 'pdf'] },
      total_pages: int,
      pages_done: int,
      pages_failed: int,
      finished: bool,
      error: object({ code: str, message: str }),
    },
    ['error'],
  ),
  GatewayHealth: object({ status: { enum: ['ok', 'degraded'] }, node_id: str, uptime_seconds: int, memory_mb: int, ocr_workers: int }),
  Worker: object(
    {
      node_id: str,
      status: {
        description: 'unhealthy: it answers, but holds pages past their time limit (stuck)',
        enum: ['healthy', 'unhealthy', 'unreachable'],
      },
      circuit: { enum: ['closed', 'open', 'half_open'] },
      host: str,
      pid: int,
      uptime_seconds: int,
      cpu_percent: num,
      memory_mb: int,
      memory_percent: num,
      total_requests: int,
      pages_done: int,
      batches_read_for_others: { description: 'Recognition batches its idle engines read for pages on other workers', type: 'integer' },
      errors: int,
      in_flight: int,
      queued: int,
      slots: { description: 'Pages it reads at once (OCR_CONCURRENCY)', type: 'integer' },
      stuck: { description: 'Pages it holds past the time their senders stopped waiting (an engine that hangs)', type: 'integer' },
      engines: { description: 'Engines reading pages side by side, each in a thread of its own', type: 'integer' },
      threads: { description: 'Intra-op threads of each inference', type: 'integer' },
      models: {
        description: "Each model's file and how it computes: int8 with its weights' bits, or float32 and why",
        ...object({ det: str, rec: str, cls: str }),
      },
      cpu: {
        description: 'The CPU the engines run on, with those of its flags that decide how the int8 models compute',
        ...object({ model: str, features: list(str) }),
      },
      languages: { description: 'Each language read, with the recogniser that reads it', ...counts(str) },
    },
    // An unreachable worker is listed with its node_id, host and circuit only.
    [
      'host',
      'pid',
      'uptime_seconds',
      'cpu_percent',
      'memory_mb',
      'memory_percent',
      'total_requests',
      'pages_done',
      'batches_read_for_others',
      'errors',
    ].concat(['in_flight', 'queued', 'slots', 'stuck', 'engines', 'threads', 'models', 'cpu', 'languages']),
  ),
  SearchReply: object(
    {
      query: str,
      k: int,
      ranking: { enum: ['hybrid', 'bm25'] },
      reason: { description: 'Why vectors were not used, when they were not', type: 'string' },
      hits: list(
        object(
          {
            document: str,
            chunk_index: int,
            text: str,
            pages: list(int),
            boxes: list(object({ page: int, box: ref('Box') })),
            marked: { description: 'The text with the query words between <mark> and </mark>', type: 'string' },
            matches: list({ type: 'array', prefixItems: [int, int], items: false, minItems: 2 }),
            score: num,
            ranks: object({ bm25: int, vector: int }, ['bm25', 'vector']),
            page_sizes: list(object({ page: int, width: int, height: int })),
          },
          [],
        ),
      ),
    },
    ['reason'],
  ),
  WorkersStatus: object({ total_workers: int, healthy_workers: int, workers: list(ref('Worker')) }),
  Error: object({
    error: object({ code: { enum: Object.keys(ERROR_CODES) }, message: str, page: int }, ['page']),
  }),
};

/** Each status's error codes, from the taxonomy. */
function errorResponse(status: number): Schema {
  const codes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => ERROR_CODES[c].status === status);
  return {
    description: codes.join(', '),
    content: { 'application/json': { schema: ref('Error') } },
  };
}

/** The errors any route behind the API key may answer. */
const ACCESS_ERRORS = [401, 403, 429, 500, 503];

function responses(ok: Record<string, Schema>, errors: number[]): Schema {
  return { ...ok, ...Object.fromEntries([...new Set([...errors, ...ACCESS_ERRORS])].sort().map((s) => [String(s), errorResponse(s)])) };
}

const json = (schema: Schema, description: string): Schema => ({ description, content: { 'application/json': { schema } } });

const ID = { name: 'id', in: 'path', required: true, schema: str };
const PAGE = { name: 'page', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };

/** The document; `outputs` are the media types a result may be written as (src/outputs/), JSON among them. */
export function openApiDocument(outputs: readonly string[]): Schema {
  const binary = { type: 'string', contentMediaType: 'application/octet-stream' };
  const result = (description: string): Schema => ({
    description,
    content: Object.fromEntries(
      outputs.map((type) => [type.split(';')[0]!, { schema: type.startsWith('application/json') ? ref('JobResult') : binary }]),
    ),
  });
  const upload = (fields: Record<string, Schema>): Schema => ({
    required: true,
    content: {
      'multipart/form-data': {
        schema: {
          type: 'object',
          properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' }, ...fields },
          required: ['file'],
        },
      },
    },
  });
  const outputFields = {
    language: { type: 'string', description: 'A language the workers read (GET /workers/status); 422 UNSUPPORTED_LANGUAGE otherwise' },
    output: { enum: ['json', 'txt', 'md', 'hocr', 'alto', 'pdf'] },
    pdfa: { enum: ['true', 'false'] },
  };
  const pdfFields = {
    dpi: { type: 'string', description: '72 to 600' },
    text_layer: { enum: ['auto', 'ocr'] },
    password: str,
    ...outputFields,
  };
  const uploadErrors = [400, 408, 413, 415, 422, 500, 503, 504];
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'ocr-cluster',
      version: '0.1.0',
      description:
        'Searchable text from scanned PDFs and photos. Every route but /health, /openapi.json and the web page wants `Authorization: Bearer <key>` when API_KEYS is set.',
    },
    components: {
      schemas: SCHEMAS,
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/ocr/image': {
        post: {
          summary: 'One page image in, its text out',
          requestBody: upload(outputFields),
          responses: responses({ 200: result('The page read') }, uploadErrors),
        },
      },
      '/ocr/pdf': {
        post: {
          summary: 'A PDF in; waits for every page',
          requestBody: upload(pdfFields),
          responses: responses({ 200: result('Every page read') }, uploadErrors),
        },
      },
      '/jobs': {
        post: {
          summary: 'A PDF, or an image as one page, read in the background',
          requestBody: upload(pdfFields),
          responses: responses({ 202: json(ref('JobProgress'), 'The job, queued') }, uploadErrors),
        },
        get: { summary: 'The jobs the key may see', responses: responses({ 200: json(list(ref('JobProgress')), 'Jobs kept') }, []) },
      },
      '/jobs/{id}': {
        parameters: [ID],
        get: { summary: "A job's progress", responses: responses({ 200: json(ref('JobProgress'), 'Its progress') }, [404]) },
        delete: {
          summary: 'Cancels a running job; removes an ended one',
          responses: responses({ 200: json(ref('JobProgress'), 'Its progress') }, [404]),
        },
      },
      '/jobs/{id}/result': {
        parameters: [
          ID,
          { name: 'format', in: 'query', schema: { enum: ['json', 'txt', 'md', 'hocr', 'alto', 'pdf'] } },
          { name: 'pdfa', in: 'query', schema: { enum: ['true', 'false'] } },
        ],
        get: { summary: "An ended job's result", responses: responses({ 200: result('The result') }, [404, 409, 422]) },
      },
      '/jobs/{id}/events': {
        parameters: [ID],
        get: {
          summary: 'Progress as server-sent events (`event: progress`, a JobProgress as data), ending with the final one',
          responses: responses({ 200: { description: 'The event stream', content: { 'text/event-stream': { schema: str } } } }, [404]),
        },
      },
      '/jobs/{id}/pages/{page}': {
        parameters: [ID, PAGE],
        get: { summary: 'A page of a job, once read', responses: responses({ 200: json(ref('PageResult'), 'The page') }, [404, 422]) },
      },
      '/jobs/{id}/pages/{page}/image': {
        parameters: [
          ID,
          PAGE,
          { name: 'width', in: 'query', schema: { type: 'integer', minimum: 16 } },
          { name: 'format', in: 'query', schema: { enum: ['jpeg', 'png'] } },
        ],
        get: {
          summary: 'The page as it was read, as an image',
          responses: responses(
            { 200: { description: 'The image', content: { 'image/jpeg': { schema: binary }, 'image/png': { schema: binary } } } },
            [404, 422],
          ),
        },
      },
      '/workers/status': {
        get: {
          summary: 'Every OCR worker of the cluster with its live health',
          responses: responses({ 200: json(ref('WorkersStatus'), 'The workers') }, []),
        },
      },
      '/search': {
        parameters: [
          { name: 'q', in: 'query', required: true, schema: str, description: 'The words; words in double quotes are a phrase' },
          { name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        ],
        get: {
          summary: 'Passages of the search index (SEARCH_INDEX), best first',
          responses: responses({ 200: json(ref('SearchReply'), 'The hits') }, [400, 404]),
        },
      },
      '/metrics': {
        get: {
          summary: "Every node's metrics in Prometheus's text format",
          responses: responses({ 200: { description: 'Prometheus text', content: { 'text/plain': { schema: str } } } }, []),
        },
      },
      '/health': {
        get: {
          summary: 'Whether this node can take work (no key, no rate limit)',
          security: [],
          responses: {
            200: json(ref('GatewayHealth'), 'Ready'),
            503: json(ref('GatewayHealth'), 'No OCR worker ready'),
            403: errorResponse(403),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This description',
          security: [],
          responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1'), 403: errorResponse(403) },
        },
      },
      '/': {
        get: {
          summary: 'The web page for people',
          security: [],
          responses: { 200: { description: 'HTML', content: { 'text/html': { schema: str } } }, 403: errorResponse(403) },
        },
      },
      '/web/{file}': {
        parameters: [{ name: 'file', in: 'path', required: true, schema: str }],
        get: {
          summary: "The web page's scripts and style",
          security: [],
          responses: {
            200: { description: 'The file', content: { 'text/javascript': { schema: str }, 'text/css': { schema: str } } },
            403: errorResponse(403),
            404: errorResponse(404),
          },
        },
      },
    },
  };
}
