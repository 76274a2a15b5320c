// The page viewer: the page image as it was read, with every line's and word's box over it in the
// page's own pixel coordinates (an SVG whose viewBox is the page), framed by confidence, the blocks
// (or, before blocks existed, the paragraphs) numbered in reading order; beside it the page's text,
// Markdown and JSON with a copy button.
import { json, request } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

/** Confidence to a class: the colours are in style.css and the legend. */
export function confidenceClass(confidence) {
  if (confidence >= 0.9) return 'conf-high';
  if (confidence >= 0.7) return 'conf-mid';
  return 'conf-low';
}

const points = (box) => box.map(([x, y]) => `${x},${y}`).join(' ');
const percent = (confidence) => `${Math.round(confidence * 1000) / 10} %`;

function svgElement(name, attributes, parent) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  parent.append(element);
  return element;
}

/** The numbered regions in reading order: `blocks` when the server gives them, else `paragraphs`. */
function orderedRegions(page) {
  if (Array.isArray(page.blocks) && page.blocks.length) return { kind: 'block', regions: page.blocks };
  return { kind: 'paragraph', regions: page.paragraphs ?? [] };
}

/** Markdown of one page: its section of the job's Markdown (`## Page N` headings) when the job has ended. */
function pageMarkdown(markdown, pageNumber) {
  if (!markdown) return "(The Markdown comes with the job's result, once the job has ended.)";
  const sections = markdown.split(/^(?=## Page \d+\s*$)/m);
  const own = sections.find((s) => s.startsWith(`## Page ${pageNumber}\n`) || s.trim() === `## Page ${pageNumber}`);
  return own ?? markdown;
}

export class Viewer {
  constructor() {
    this.section = $('viewer');
    this.image = $('page-image');
    this.svg = $('boxes');
    this.tip = $('box-tip');
    this.select = $('page-select');
    this.imageUrl = undefined;
    this.job = undefined;
    this.tab = 'text';
    $('prev-page').addEventListener('click', () => this.show(this.pageNumber - 1));
    $('next-page').addEventListener('click', () => this.show(this.pageNumber + 1));
    this.select.addEventListener('change', () => this.show(Number(this.select.value)));
    $('close-viewer').addEventListener('click', () => this.close());
    for (const tab of ['text', 'md', 'json']) $(`tab-${tab}`).addEventListener('click', () => this.showTab(tab));
    $('copy').addEventListener('click', () => this.copy());
    this.svg.addEventListener('pointerover', (event) => this.hover(event));
    this.svg.addEventListener('pointerleave', () => (this.tip.hidden = true));
  }

  /**
   * Opens page `pageNumber` of `job` ({id, filename, total, readable(n), markdown}); pages not read
   * (yet) are listed but not openable.
   */
  async open(job, pageNumber) {
    this.job = job;
    this.section.hidden = false;
    await this.show(pageNumber);
    this.section.scrollIntoView({ block: 'start' });
    $('viewer-title').focus?.();
  }

  close() {
    this.section.hidden = true;
    this.job = undefined;
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = undefined;
  }

  /** Re-lists the pages when the job has read more of them. */
  refresh(job) {
    if (this.job && this.job.id === job.id) {
      this.job = job;
      this.listPages();
    }
  }

  listPages() {
    const { total, readable } = this.job;
    this.select.replaceChildren();
    for (let n = 1; n <= total; n++) {
      const option = new Option(readable(n) ? `${n}` : `${n} (not read)`, String(n), false, n === this.pageNumber);
      option.disabled = !readable(n);
      this.select.append(option);
    }
    $('prev-page').disabled = !(this.pageNumber > 1 && readable(this.pageNumber - 1));
    $('next-page').disabled = !(this.pageNumber < total && readable(this.pageNumber + 1));
  }

  async show(pageNumber) {
    const job = this.job;
    if (!job || pageNumber < 1 || pageNumber > job.total) return;
    this.pageNumber = pageNumber;
    this.listPages();
    $('viewer-title').textContent = `${job.filename}, page ${pageNumber} of ${job.total}`;
    const base = `/jobs/${encodeURIComponent(job.id)}/pages/${pageNumber}`;
    // As wide as the screen shows it, in device pixels; the server never enlarges the page.
    const width = Math.ceil((this.image.parentElement.clientWidth || 800) * (window.devicePixelRatio || 1));
    $('viewer-message').textContent = '';
    let page, blob;
    try {
      [page, blob] = await Promise.all([json(base), request(`${base}/image?width=${width}`).then((res) => res.blob())]);
    } catch (err) {
      if (this.job !== job || this.pageNumber !== pageNumber) return;
      $('viewer-message').textContent = `${err.message} (${err.code})`;
      this.image.removeAttribute('src');
      this.svg.replaceChildren();
      this.page = undefined;
      for (const tab of ['text', 'md', 'json']) $(`out-${tab}`).textContent = '';
      return;
    }
    if (this.job !== job || this.pageNumber !== pageNumber) return; // another page was asked for meanwhile
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = URL.createObjectURL(blob);
    this.image.src = this.imageUrl;
    this.image.alt = `Page ${pageNumber} of ${job.filename}`;
    this.page = page;
    this.draw(page);
    $('out-text').textContent = page.text;
    $('out-md').textContent = pageMarkdown(job.markdown, pageNumber);
    $('out-json').textContent = JSON.stringify(page, null, 2);
    this.section.dataset.page = String(pageNumber);
  }

  draw(page) {
    const svg = this.svg;
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${page.width} ${page.height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    // Strokes in screen pixels whatever the page's size.
    const { kind, regions } = orderedRegions(page);
    const regionLayer = svgElement('g', { class: `regions ${kind}s` }, svg);
    regions.forEach((region, i) => {
      svgElement('polygon', { points: points(region.box), class: 'region', 'vector-effect': 'non-scaling-stroke' }, regionLayer);
      const [x, y] = region.box[0];
      const label = svgElement('text', { x, y, class: 'order', 'data-order': i + 1 }, regionLayer);
      label.textContent = String(i + 1);
      if (region.type) label.setAttribute('data-type', region.type);
    });
    const lineLayer = svgElement('g', { class: 'lines' }, svg);
    page.lines.forEach((line, i) => {
      const group = svgElement('g', { class: 'line', 'data-line': i }, lineLayer);
      svgElement(
        'polygon',
        { points: points(line.box), class: `line-box ${confidenceClass(line.confidence)}`, 'vector-effect': 'non-scaling-stroke' },
        group,
      );
      for (const word of line.words ?? []) {
        svgElement(
          'polygon',
          {
            points: points(word.box),
            class: `word-box ${confidenceClass(word.confidence)}`,
            'data-text': word.text,
            'vector-effect': 'non-scaling-stroke',
          },
          group,
        );
      }
    });
    // Labels about 16 screen pixels high, in the page's units.
    svg.style.setProperty('--label-size', `${(16 * page.width) / Math.max(100, this.image.parentElement.clientWidth)}px`);
  }

  hover(event) {
    const group = event.target.closest?.('g.line');
    if (!group || !this.page) return;
    const line = this.page.lines[Number(group.dataset.line)];
    const word = event.target.dataset.text !== undefined ? line.words.find((w) => w.text === event.target.dataset.text) : undefined;
    this.tip.textContent = `${line.text}  (${percent(line.confidence)})${word ? `\nword "${word.text}": ${percent(word.confidence)}` : ''}`;
    const view = $('page-frame').getBoundingClientRect();
    const box = group.getBoundingClientRect();
    this.tip.style.left = `${Math.max(0, box.left - view.left)}px`;
    this.tip.style.top = `${box.bottom - view.top + 4}px`;
    this.tip.hidden = false;
  }

  showTab(tab) {
    this.tab = tab;
    for (const name of ['text', 'md', 'json']) {
      $(`tab-${name}`).setAttribute('aria-selected', String(name === tab));
      $(`out-${name}`).hidden = name !== tab;
    }
  }

  async copy() {
    const text = $(`out-${this.tab}`).textContent;
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied';
    } catch {
      // No clipboard API outside secure contexts (a plain http:// address): select the text instead.
      const range = document.createRange();
      range.selectNodeContents($(`out-${this.tab}`));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      status.textContent = document.execCommand('copy') ? 'Copied' : 'Selected: press Ctrl+C to copy';
    }
    setTimeout(() => (status.textContent = ''), 3000);
  }
}
