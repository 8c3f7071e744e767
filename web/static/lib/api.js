// The one door to baedal: the public v1 JSON API with the signed-in user's bearer token, and
// its live streams (SSE read with fetch, because EventSource cannot send the token).

import { current, signOut } from './session.js';
import { t } from './i18n.js';
import { sleep } from './dom.js';
import './errors.js';

/** A refusal from the API: its status, its `code`, its message, and `Retry-After` if any. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** What to tell the user, with the wait when the API gave one. */
  get userMessage() {
    if (this.status === 0) return t('error.network');
    if (this.status === 401) return t('error.unauthorized');
    // The code's words in the chosen language (lib/errors.js), else the API's own message.
    const key = `code.${this.code}`;
    const said = t(key) === key ? this.message : t(key);
    if (this.retryAfter) return t('error.retry_in', { message: said, secs: this.retryAfter });
    return said;
  }

  static async from(res) {
    let code = 'http_' + res.status;
    let message = res.statusText || code;
    try {
      const body = await res.json();
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch { /* not JSON: keep the status */ }
    const retry = Number(res.headers.get('retry-after'));
    return new ApiError(res.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
}

function headers(extra) {
  const h = { accept: 'application/json', ...extra };
  const who = current();
  if (who) h.authorization = `Bearer ${who.token}`;
  return h;
}

/**
 * The API refused the token (expired, revoked, signed by another key, or forged): forget it
 * and go to the sign-in page, which says why. A page must not keep showing a user who is not.
 */
function refused() {
  if (!current()) return;
  signOut();
  sessionStorage.setItem('baedal.signin_note', 'expired');
  location.hash = '/signin';
}

/** Call the API; the parsed JSON answer (null for 204), or throws `ApiError`. */
export async function call(method, path, { body, headers: extra } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { 'content-type': 'application/json', ...extra } : extra),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'network', t('error.network'), null);
  }
  if (!res.ok) {
    const err = await ApiError.from(res);
    if (res.status === 401) refused();
    throw err;
  }
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => call('GET', path);
export const post = (path, body, extra) => call('POST', path, { body, headers: extra });
export const put = (path, body) => call('PUT', path, { body });
export const del = (path) => call('DELETE', path);

/**
 * Follow a live stream: `onEvent(type, data, id)` for each event, `onState('live' |
 * 'reconnecting' | 'ended', error?)` as the connection changes. Reconnects with
 * `Last-Event-ID` (what was missed comes first, nothing twice), backing off to 10 s; stops on
 * a refusal that a retry cannot mend (401, 403, 404, 422). Returns `{close()}`.
 */
export function follow(path, onEvent, onState = () => {}) {
  const abort = new AbortController();
  let lastId = null;
  let closed = false;
  (async () => {
    let backoff = 500;
    while (!closed) {
      try {
        const extra = { accept: 'text/event-stream' };
        if (lastId) extra['last-event-id'] = lastId;
        const res = await fetch(path, { headers: headers(extra), signal: abort.signal, cache: 'no-store' });
        if (!res.ok) {
          const err = await ApiError.from(res);
          if ([401, 403, 404, 422].includes(res.status)) {
            if (err.code === 'invalid_last_event_id') { lastId = null; continue; }
            closed = true;
            onState('ended', err);
            if (res.status === 401) refused();
            return;
          }
          backoff = Math.max(backoff, (err.retryAfter ?? 0) * 1000);
          throw err;
        }
        onState('live');
        backoff = 500;
        await read(res.body, (type, data, id) => {
          if (id) lastId = id;
          onEvent(type, data, id);
        });
      } catch (e) {
        if (closed || abort.signal.aborted) return;
      }
      if (closed) return;
      onState('reconnecting');
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10_000);
    }
  })();
  return {
    close() {
      closed = true;
      abort.abort();
    },
  };
}

/** The SSE wire format (event, data, id fields; a blank line ends an event; `:` a comment). */
async function read(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { type: 'message', data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (event.data.length) {
          const text = event.data.join('\n');
          let data;
          try { data = JSON.parse(text); } catch { data = text; }
          dispatch(event.type, data, event.id);
        }
        event = { type: 'message', data: [], id: null };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'event') event.type = val;
      else if (name === 'data') event.data.push(val);
      else if (name === 'id') event.id = val;
    }
  }
}

/** A fresh idempotency key (one per order the customer means to place). */
export function newKey() {
  return crypto.randomUUID();
}
