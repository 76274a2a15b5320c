// The REST API as this page uses it: every request carries the API key when the server wants one
// (asked once, kept in sessionStorage), errors come back as the API's own {code, message}, and job
// events are read from a fetch() stream because EventSource cannot send the Authorization header.

const KEY_ITEM = 'ocr-cluster.api-key';

/** An error answer of the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

let askKey = async () => {
  throw new ApiError('UNAUTHORIZED', 'This server wants an API key', 401);
};

/** `ask(message)` resolves with a key the person typed; called when the server answers 401. */
export function onKeyWanted(ask) {
  askKey = ask;
}

export function hasKey() {
  return sessionStorage.getItem(KEY_ITEM) !== null;
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && body.error) return new ApiError(body.error.code, body.error.message, res.status);
  } catch {
    // not JSON: say what HTTP said
  }
  return new ApiError(`HTTP_${res.status}`, `The server answered ${res.status} ${res.statusText}`, res.status);
}

/** fetch() with the key; on 401 asks for a key and tries again. Rejects with ApiError unless the answer is 2xx. */
export async function request(path, init = {}) {
  for (;;) {
    const headers = new Headers(init.headers);
    const key = sessionStorage.getItem(KEY_ITEM);
    if (key) headers.set('Authorization', `Bearer ${key}`);
    let res;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError('NETWORK', 'The server could not be reached', 0);
    }
    if (res.ok) return res;
    const error = await errorOf(res);
    if (res.status !== 401) throw error;
    forgetKey();
    sessionStorage.setItem(KEY_ITEM, await askKey(key ? 'That key was refused: try another one' : error.message));
  }
}

export async function json(path, init) {
  return (await request(path, init)).json();
}

/** Yields each server-sent event of `path` as {event, data} (data parsed as JSON) until the stream ends. */
export async function* serverEvents(path, signal) {
  const res = await request(path, { headers: { Accept: 'text/event-stream' }, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { event, data: JSON.parse(data.join('\n')) };
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
