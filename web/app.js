// The page: files in, one job each (POST /jobs), live progress from each job's event stream, cancel,
// downloads, the page viewer, and the workers' health. Plain DOM, no framework, nothing from
// elsewhere.
import { ApiError, forgetKey, hasKey, json, onKeyWanted, request, serverEvents } from './api.js';
import { Viewer } from './viewer.js';

const $ = (id) => document.getElementById(id);
const viewer = new Viewer();

/** What the download buttons call each format; the file's name comes from the server (Content-Disposition). */
const FORMAT_LABELS = { json: 'JSON', txt: 'Text', md: 'Markdown', pdf: 'Searchable PDF', hocr: 'hOCR', alto: 'ALTO' };

// ---------------------------------------------------------------- the API key

let keyWaiters = [];
onKeyWanted((message) => {
  $('key-section').hidden = false;
  $('key-message').textContent = message;
  $('key-input').focus();
  return new Promise((resolve) => keyWaiters.push(resolve));
});
$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) return;
  $('key-input').value = '';
  $('key-section').hidden = true;
  $('forget-key').hidden = false;
  for (const resolve of keyWaiters.splice(0)) resolve(key);
});
$('forget-key').hidden = !hasKey();
$('forget-key').addEventListener('click', () => {
  forgetKey();
  $('forget-key').hidden = true;
});

// ---------------------------------------------------------------- jobs

/** Per job: its card's elements and what the viewer needs. */
const jobs = new Map();

const minutes = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

function element(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

/** A card in the job list: for a file being sent, then for its job. */
function jobCard(filename) {
  $('no-jobs').hidden = true;
  const card = {
    filename,
    title: element('h3', {}, filename),
    status: element('p', { class: 'status', role: 'status' }, 'Sending…'),
    bar: element('progress', { max: '1', 'aria-label': `Progress of ${filename}` }),
    stats: element('p', { class: 'stats muted' }),
    actions: element('div', { class: 'row actions' }),
    pages: element('div', { class: 'row pages' }),
    message: element('p', { class: 'error', role: 'alert' }),
  };
  card.root = element('li', { class: 'job' }, card.title, card.status, card.bar, card.stats, card.actions, card.pages, card.message);
  $('jobs').prepend(card.root);
  return card;
}

function showError(card, err) {
  card.status.textContent = 'Failed';
  card.bar.remove();
  card.message.textContent = err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
}

/** Follows a job to its end: progress, rate and ETA from its events, then downloads. */
async function followJob(card, progress, formats) {
  const job = {
    id: progress.job_id,
    filename: progress.filename,
    total: progress.total_pages,
    progress,
    markdown: undefined,
    read: undefined,
    formats,
    card,
  };
  // While the job runs, any page may have been read: the viewer says so when one was not (yet).
  job.readable = (n) => !job.read || job.read.has(n);
  jobs.set(job.id, job);
  card.root.dataset.jobId = job.id;
  const cancel = element('button', { type: 'button', onclick: () => cancelJob(job, cancel) }, `Cancel ${job.filename}`);
  card.actions.replaceChildren(cancel);
  let first;
  const update = (p) => {
    job.progress = p;
    const done = p.pages_done + p.pages_failed;
    const now = performance.now();
    first ??= { at: now, done };
    card.bar.max = p.total_pages;
    card.bar.value = done;
    card.status.textContent = `${p.status}: ${p.pages_done} / ${p.total_pages} pages${p.pages_failed ? `, ${p.pages_failed} failed` : ''}`;
    card.root.dataset.status = p.status;
    const perMinute = done > first.done ? ((done - first.done) / (now - first.at)) * 60_000 : undefined;
    const left = p.total_pages - done;
    card.stats.textContent =
      p.finished || perMinute === undefined ? '' : `${perMinute.toFixed(1)} pages/min, about ${minutes((left / perMinute) * 60_000)} left`;
  };
  update(progress);
  // A dropped stream (a proxy's timeout, the laptop sleeping) is opened again until the job has ended.
  while (!job.progress.finished) {
    try {
      for await (const { event, data } of serverEvents(`/jobs/${encodeURIComponent(job.id)}/events`)) {
        if (event !== 'progress') continue;
        update(data);
        if (data.pages_done > 0 && !card.pages.hasChildNodes()) showViewButton(job);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return showError(card, err);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  cancel.remove();
  await finished(job);
}

function showViewButton(job) {
  const first = () => (job.read ? Math.min(...job.read) : 1);
  job.card.pages.replaceChildren(
    element('button', { type: 'button', class: 'view', onclick: () => viewer.open(job, first()) }, `View the pages of ${job.filename}`),
  );
}

async function cancelJob(job, button) {
  button.disabled = true;
  try {
    await request(`/jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
  } catch (err) {
    job.card.message.textContent = err.message;
    button.disabled = false;
  }
}

async function finished(job) {
  const { card } = job;
  try {
    const result = await json(`/jobs/${encodeURIComponent(job.id)}/result?format=json`);
    job.result = result;
    job.markdown = result.combined_markdown;
    job.read = new Set(result.results.map((page) => page.page_number));
    if (job.read.size) showViewButton(job);
    viewer.refresh(job);
    const errors = result.metrics.errors ?? [];
    if (job.progress.error) card.message.textContent = `${job.progress.error.message} (${job.progress.error.code})`;
    else if (errors.length) card.message.textContent = errors.map((e) => `page ${e.page}: ${e.message} (${e.code})`).join('; ');
  } catch (err) {
    card.message.textContent = err.message;
    return;
  }
  card.actions.replaceChildren(
    ...job.formats.map((format) =>
      element(
        'button',
        { type: 'button', class: 'download', 'data-format': format, onclick: () => download(job, format) },
        `Download ${FORMAT_LABELS[format]}`,
      ),
    ),
  );
}

const stem = (filename) => filename.replace(/\.[A-Za-z0-9]+$/, '') || 'result';

/** Saves `format` of the job's result as a file, under the name the server gives it. */
async function download(job, format) {
  job.card.message.textContent = '';
  let blob;
  let filename = `${stem(job.filename)}.${format}`;
  try {
    const res = await request(`/jobs/${encodeURIComponent(job.id)}/result?format=${format}`);
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(res.headers.get('Content-Disposition') ?? '');
    if (named) filename = decodeURIComponent(named[1]);
    blob = await res.blob();
  } catch (err) {
    job.card.message.textContent = `${err.message} (${err.code})`;
    return;
  }
  const url = URL.createObjectURL(blob);
  const link = element('a', { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One POST /jobs per file, one after another; each job is then followed on its own. */
const offeredFormats = () => [...$('upload-form').querySelectorAll('input[name=format]:checked')].map((input) => input.value);

async function submit(files) {
  const formats = offeredFormats();
  const dpi = $('dpi').value;
  const textLayer = $('text-layer').checked ? 'auto' : 'ocr';
  for (const file of files) {
    const card = jobCard(file.name);
    const body = new FormData();
    body.append('file', file, file.name);
    if (dpi) body.append('dpi', dpi);
    body.append('text_layer', textLayer);
    try {
      const progress = await json('/jobs', { method: 'POST', body });
      followJob(card, progress, formats).catch((err) => showError(card, err));
    } catch (err) {
      showError(card, err);
    }
  }
}

$('upload-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const files = [...$('file-input').files];
  $('upload-message').textContent = files.length ? '' : 'Choose or drop at least one file first';
  if (!files.length) return;
  $('file-input').value = '';
  submit(files);
});

const drop = $('drop-zone');
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('dragging');
});
drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('dragging');
  const files = [...(event.dataTransfer?.files ?? [])];
  if (files.length) submit(files);
});

/** Jobs this server still keeps (from an earlier visit in this tab's session, or other clients with the same key). */
async function listKeptJobs() {
  for (const progress of await json('/jobs')) {
    if (jobs.has(progress.job_id)) continue;
    const card = jobCard(progress.filename);
    followJob(card, progress, offeredFormats()).catch((err) => showError(card, err));
  }
}

// ---------------------------------------------------------------- workers

async function refreshWorkers() {
  if (document.hidden) return;
  try {
    const status = await json('/workers/status');
    $('workers-summary').textContent = `${status.healthy_workers} of ${status.total_workers} workers healthy`;
    const cell = (value) => element('td', {}, value === undefined ? '–' : String(value));
    $('workers').tBodies[0].replaceChildren(
      ...status.workers.map((w) =>
        element(
          'tr',
          { 'data-status': w.status },
          element('th', { scope: 'row' }, w.node_id),
          cell(w.circuit === 'closed' ? w.status : `${w.status}, circuit ${w.circuit.replace('_', '-')}`),
          cell(w.cpu_percent === undefined ? undefined : `${w.cpu_percent} %`),
          cell(w.memory_mb === undefined ? undefined : `${w.memory_mb} MB`),
          cell(w.in_flight === undefined ? undefined : `${w.in_flight} of ${w.slots}`),
          cell(w.queued),
          cell(w.pages_done),
          cell(w.errors),
        ),
      ),
    );
  } catch (err) {
    $('workers-summary').textContent = `Workers unknown: ${err.message}`;
  }
}

refreshWorkers()
  .then(listKeptJobs)
  .catch((err) => ($('upload-message').textContent = err.message));
setInterval(refreshWorkers, 5000);
