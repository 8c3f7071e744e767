// A shared tracking link: anyone with it sees the order's status and arrival time, with no
// sign-in (GET /v1/track/{token}); read again every 10 s (no live stream for anonymous
// readers). The link expires when the order ends (410): the page says so and stops.

import { h, mount } from '../lib/dom.js';
import { t, words, clock, status, TERMINAL } from '../lib/i18n.js';
import { get, ApiError } from '../lib/api.js';
import { timeline, etaText } from './customer/order.js';

words({
  ko: {
    'track.title': '배달 추적',
    'track.store': '{store}에서 오는 주문',
    'track.eta': '도착 예정',
    'track.eta_none': '배달원이 출발하면 도착 예정 시간을 알려 드립니다.',
    'track.updated': '{time} 기준 · 10초마다 새로 고칩니다',
    'track.expired': '이 추적 링크는 만료되었습니다. 주문이 끝났습니다.',
    'track.not_found': '추적 링크를 찾을 수 없습니다. 주소를 확인해 주세요.',
  },
  en: {
    'track.title': 'Delivery tracking',
    'track.store': 'An order from {store}',
    'track.eta': 'Arrival',
    'track.eta_none': 'We will show the arrival time once the rider is on the way.',
    'track.updated': 'As of {time} · refreshed every 10 s',
    'track.expired': 'This tracking link has expired: the order has ended.',
    'track.not_found': 'No such tracking link. Check the address.',
  },
});

const EVERY_MS = 10_000;

export async function render(main, { token }) {
  const store = h('p', { class: 'muted', id: 'track-store' });
  const badge = h('span', { class: 'badge', id: 'track-status' }, '…');
  const eta = h('p', { class: 'eta', id: 'track-eta' });
  const updated = h('p', { class: 'muted', id: 'track-updated' });
  const error = h('p', { class: 'error', role: 'alert', id: 'track-error' });
  const steps = timeline();
  const body = h('div', { class: 'stack' },
    h('div', { class: 'card stack' }, badge, h('div', {}, h('strong', {}, `${t('track.eta')}: `), eta), updated),
    h('div', { class: 'card' }, steps.el));
  mount(main, h('h1', {}, t('track.title')), store, error, body);

  let timer = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };

  async function tick() {
    try {
      const v = await get(`/v1/track/${encodeURIComponent(token)}`);
      error.textContent = '';
      store.textContent = t('track.store', { store: v.store_name });
      badge.textContent = status(v.status);
      badge.className = `badge${TERMINAL.has(v.status) ? ' done' : ''}`;
      eta.textContent = v.eta ? etaText(v.eta) : t('track.eta_none');
      updated.textContent = t('track.updated', { time: clock(v.updated_at ?? Date.now()) });
      steps.update(v.status, []);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 410 || err.status === 404)) {
        stop();
        error.textContent = err.status === 410 ? t('track.expired') : t('track.not_found');
        body.hidden = true;
        return;
      }
      error.textContent = err instanceof ApiError ? err.userMessage : String(err);
    }
    if (!stopped) timer = setTimeout(tick, EVERY_MS);
  }
  await tick();
  return stop;
}
