// Ops: the payment breaker and refund health, the open orders by status with live counts, the
// stuck list with the ops cancel (a reason is required), the webhooks, and a link from each
// order to its workflow in the Temporal Web UI. Everything is read from the JSON API with the
// ops token; the numbers refresh every 5 s while the page is visible (not while the tab is in
// the background), and a row that changes is updated in place so nothing jumps.

import { h, mount, field, section, announce } from '../../lib/dom.js';
import { t, words, won, clock, status, TERMINAL, STATUSES } from '../../lib/i18n.js';
import { get, post, ApiError } from '../../lib/api.js';
import { setting, current } from '../../lib/session.js';

words({
  ko: {
    'ops.title': '운영 현황',
    'ops.refresh': '5초마다 새로 고침 · 마지막 {at}',
    'ops.refresh_paused': '화면이 보이지 않아 새로 고침을 멈췄습니다',
    'ops.refresh_now': '지금 새로 고침',
    'ops.payment': '결제와 환불',
    'ops.breaker': '결제 차단기',
    'ops.breaker.none': '보고한 워커가 없습니다',
    'ops.breaker.closed': '정상 (닫힘)',
    'ops.breaker.open': '차단됨 (열림)',
    'ops.breaker.half_open': '시험 중 (반열림)',
    'ops.breaker.calls': '최근 호출 {calls}건 · 실패 {failures}건 ({rate}%) · 느림 {slow}건',
    'ops.breaker.retry': '{secs}초 후 다시 시험합니다',
    'ops.breaker.next_probes': '다음 결제 요청으로 다시 시험합니다',
    'ops.breaker.since': '{secs} 동안 이 상태',
    'ops.workers': '워커별 차단기',
    'ops.worker': '워커',
    'ops.state': '상태',
    'ops.calls': '호출',
    'ops.failures': '실패',
    'ops.published': '보고 시각',
    'ops.door': '주문 결제 접수 (이 API)',
    'ops.door.open': '정상 접수 중',
    'ops.door.shedding': '주문을 잠시 받지 않음',
    'ops.door.probing': '시험 주문 중',
    'ops.door.retry': '{secs}초 후 다시 받습니다',
    'ops.door.next_probes': '다음 주문으로 결제 서비스를 시험합니다',
    'ops.refunds': '환불',
    'ops.refunds.ok': '밀린 환불 없음',
    'ops.refunds.pending': '진행 중',
    'ops.refunds.stuck': '지연됨',
    'ops.refunds.count': '진행 중인 환불 {n}건',
    'ops.refunds.oldest': '가장 오래된 환불: {at}부터',
    'ops.refunds.error': '마지막 오류: {error}',
    'ops.by_status': '상태별 주문',
    'ops.counts_label': '상태를 골라 주문 보기',
    'ops.count_aria': '{status} {n}건',
    'ops.counts_missing': '이 서버는 상태별 주문 수를 아직 제공하지 않습니다.',
    'ops.orders_of': '{status} 주문',
    'ops.orders_none': '이 상태의 주문이 없습니다.',
    'ops.order': '주문',
    'ops.store': '가게',
    'ops.customer': '고객',
    'ops.total': '금액',
    'ops.since': '이 상태부터',
    'ops.links': '바로가기',
    'ops.temporal': 'Temporal에서 보기',
    'ops.temporal_for': 'Temporal에서 보기: {id}',
    'ops.stuck': '멈춘 주문',
    'ops.stuck_hint': '같은 상태로 {after} 넘게 머문 주문과, 그만큼 끝나지 않은 환불',
    'ops.stuck_none': '멈춘 주문이 없습니다.',
    'ops.stuck_for': '{time}째 멈춤',
    'ops.stuck_refund': '환불 {status} · 시도 {attempts}회',
    'ops.cancel': '운영 취소',
    'ops.cancel_for': '운영 취소: {id}',
    'ops.reason': '취소 사유',
    'ops.reason_hint': '고객과 가게에 전달됩니다 (300자 이내)',
    'ops.reason_required': '취소 사유를 입력하세요.',
    'ops.cancel_confirm': '취소하고 환불',
    'ops.cancel_back': '닫기',
    'ops.canceled': '{id} 주문을 취소했습니다.',
    'ops.cancel_sent': '{id} 취소 요청을 보냈습니다. 곧 취소됩니다.',
    'ops.done': '방금 처리한 주문',
    'ops.done_refund': '환불: {status}',
    'ops.done_no_refund': '환불할 금액 없음',
    'ops.done_waiting': '취소 처리 중…',
    'ops.refund.pending': '진행 중',
    'ops.refund.succeeded': '완료',
    'ops.hooks': '웹훅',
    'ops.hooks_none': '등록된 웹훅이 없습니다.',
    'ops.hooks_reload': '웹훅 다시 불러오기',
    'ops.hooks_off': '이 서버에는 알림 서비스가 설정되어 있지 않습니다.',
    'ops.hook.active': '사용 중',
    'ops.hook.disabled': '중지됨',
    'ops.hook.events': '이벤트: {events}',
    'ops.hook.all_events': '모든 이벤트',
    'ops.hook.created': '등록: {at}',
    'ops.hook.disabled_reason': '중지 사유: {reason}',
    'ops.hook.deliveries': '최근 전송 보기',
    'ops.hook.hide': '최근 전송 닫기',
    'ops.hook.no_deliveries': '아직 전송한 이벤트가 없습니다.',
    'ops.delivery.event': '이벤트',
    'ops.delivery.status': '결과',
    'ops.delivery.attempts': '시도',
    'ops.delivery.at': '시각',
    'ops.delivery.pending': '대기',
    'ops.delivery.succeeded': '성공',
    'ops.delivery.failed': '실패',
    'ops.delivery.abandoned': '포기',
    'ops.secs': '{n}초',
    'ops.mins': '{m}분 {s}초',
    'ops.mins_even': '{m}분',
    'ops.hours': '{h}시간 {m}분',
  },
  en: {
    'ops.title': 'Operations',
    'ops.refresh': 'Refreshed every 5 s · last {at}',
    'ops.refresh_paused': 'Paused while the page is hidden',
    'ops.refresh_now': 'Refresh now',
    'ops.payment': 'Payments and refunds',
    'ops.breaker': 'Payment breaker',
    'ops.breaker.none': 'No worker has reported',
    'ops.breaker.closed': 'Healthy (closed)',
    'ops.breaker.open': 'Tripped (open)',
    'ops.breaker.half_open': 'Probing (half-open)',
    'ops.breaker.calls': '{calls} recent calls · {failures} failed ({rate}%) · {slow} slow',
    'ops.breaker.retry': 'probes again in {secs} s',
    'ops.breaker.next_probes': 'the next charge probes it',
    'ops.breaker.since': 'in this state for {secs}',
    'ops.workers': 'Breaker per worker',
    'ops.worker': 'Worker',
    'ops.state': 'State',
    'ops.calls': 'Calls',
    'ops.failures': 'Failed',
    'ops.published': 'Reported',
    'ops.door': 'Paid orders taken (this API)',
    'ops.door.open': 'Taking orders',
    'ops.door.shedding': 'Turning orders away for now',
    'ops.door.probing': 'Letting a probe order through',
    'ops.door.retry': 'takes orders again in {secs} s',
    'ops.door.next_probes': 'the next order probes the payment service',
    'ops.refunds': 'Refunds',
    'ops.refunds.ok': 'No refund waiting',
    'ops.refunds.pending': 'In progress',
    'ops.refunds.stuck': 'Delayed',
    'ops.refunds.count': '{n} refunds in progress',
    'ops.refunds.oldest': 'Oldest owed since {at}',
    'ops.refunds.error': 'Last error: {error}',
    'ops.by_status': 'Orders by status',
    'ops.counts_label': 'Pick a status to see its orders',
    'ops.count_aria': '{status}: {n}',
    'ops.counts_missing': 'This server does not give order counts by status yet.',
    'ops.orders_of': '{status} orders',
    'ops.orders_none': 'No orders in this status.',
    'ops.order': 'Order',
    'ops.store': 'Store',
    'ops.customer': 'Customer',
    'ops.total': 'Total',
    'ops.since': 'In status since',
    'ops.links': 'Links',
    'ops.temporal': 'Open in Temporal',
    'ops.temporal_for': 'Open in Temporal: {id}',
    'ops.stuck': 'Stuck orders',
    'ops.stuck_hint': 'Orders in the same status for over {after}, and refunds not through that long',
    'ops.stuck_none': 'No stuck orders.',
    'ops.stuck_for': 'stuck for {time}',
    'ops.stuck_refund': 'refund {status} · {attempts} attempts',
    'ops.cancel': 'Ops cancel',
    'ops.cancel_for': 'Ops cancel: {id}',
    'ops.reason': 'Reason',
    'ops.reason_hint': 'The customer and the store see it (up to 300 characters)',
    'ops.reason_required': 'Enter the reason for the cancel.',
    'ops.cancel_confirm': 'Cancel and refund',
    'ops.cancel_back': 'Close',
    'ops.canceled': 'Order {id} canceled.',
    'ops.cancel_sent': 'The cancel of {id} is on its way.',
    'ops.done': 'Just handled',
    'ops.done_refund': 'Refund: {status}',
    'ops.done_no_refund': 'Nothing to refund',
    'ops.done_waiting': 'Canceling…',
    'ops.refund.pending': 'in progress',
    'ops.refund.succeeded': 'done',
    'ops.hooks': 'Webhooks',
    'ops.hooks_none': 'No webhooks registered.',
    'ops.hooks_reload': 'Reload webhooks',
    'ops.hooks_off': 'This server has no notification service configured.',
    'ops.hook.active': 'Active',
    'ops.hook.disabled': 'Disabled',
    'ops.hook.events': 'Events: {events}',
    'ops.hook.all_events': 'every event',
    'ops.hook.created': 'Registered {at}',
    'ops.hook.disabled_reason': 'Disabled: {reason}',
    'ops.hook.deliveries': 'Show recent deliveries',
    'ops.hook.hide': 'Hide recent deliveries',
    'ops.hook.no_deliveries': 'Nothing delivered yet.',
    'ops.delivery.event': 'Event',
    'ops.delivery.status': 'Result',
    'ops.delivery.attempts': 'Attempts',
    'ops.delivery.at': 'Time',
    'ops.delivery.pending': 'pending',
    'ops.delivery.succeeded': 'delivered',
    'ops.delivery.failed': 'failed',
    'ops.delivery.abandoned': 'abandoned',
    'ops.secs': '{n} s',
    'ops.mins': '{m} min {s} s',
    'ops.mins_even': '{m} min',
    'ops.hours': '{h} h {m} min',
  },
});

/** Open statuses: the ones an order can still leave (the counts and the ops cancel). */
const OPEN = STATUSES.filter((s) => !TERMINAL.has(s));
const EVERY = 5000;

const message = (err) => (err instanceof ApiError ? err.userMessage : String(err));
const shortId = (id) => (id.length > 14 ? `${id.slice(0, 12)}…` : id);

/** 42 s, 3 min 12 s, 2 h 5 min. */
function duration(secs) {
  const n = Math.max(0, Math.round(secs));
  if (n < 60) return t('ops.secs', { n });
  if (n < 3600) return t(n % 60 ? 'ops.mins' : 'ops.mins_even', { m: Math.floor(n / 60), s: n % 60 });
  return t('ops.hours', { h: Math.floor(n / 3600), m: Math.floor((n % 3600) / 60) });
}

function when(at) {
  if (!at) return '';
  const d = new Date(at);
  const day = d.toDateString() === new Date().toDateString();
  return day ? clock(at) : `${d.toLocaleDateString()} ${clock(at)}`;
}

/**
 * The Temporal Web UI's page of an order's workflow, built as the api's `temporal_ui_link`
 * does: `<ui>/namespaces/<namespace>/workflows/<order id>`. The namespace is learned from a
 * link the api gave (the stuck list), `default` until then.
 */
const temporal = { namespace: setting('temporal-namespace') || 'default' };
function temporalLink(id, given) {
  if (given) {
    const m = /\/namespaces\/([^/]+)\/workflows\//.exec(given);
    if (m) temporal.namespace = decodeURIComponent(m[1]);
    return given;
  }
  const ui = setting('temporal-ui');
  if (!ui) return null;
  return `${ui.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(id)}`;
}

function temporalAnchor(id, given) {
  const href = temporalLink(id, given);
  if (!href) return null;
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer', 'aria-label': t('ops.temporal_for', { id }) },
    t('ops.temporal'));
}

function badge(text, tone) {
  return h('span', { class: `badge${tone ? ` ${tone}` : ''}` }, text);
}

/** Store id → name (the ops lists carry the id only), loaded once per visit. */
const storeNames = new Map();
const storeName = (id) => storeNames.get(id) ?? id;
async function loadStoreNames() {
  try {
    const { stores } = await get('/v1/stores?limit=100');
    for (const st of stores) storeNames.set(st.id, st.name);
  } catch { /* the ids still say which store */ }
}

export async function render(main) {
  await loadStoreNames();
  const timers = [];
  let stopped = false;
  const stamp = h('p', { class: 'live-state', 'data-state': 'live' });
  const refreshNow = h('button', { type: 'button', class: 'link' }, t('ops.refresh_now'));

  const payment = paymentPanel();
  const counts = countsPanel();
  const stuck = stuckPanel(() => tick());
  const hooks = hooksPanel();

  mount(main,
    h('div', { class: 'spread' }, h('h1', {}, t('ops.title')), h('div', { class: 'row' }, stamp, refreshNow)),
    section(t('ops.payment'), payment.el),
    section(t('ops.by_status'), counts.el),
    section(t('ops.stuck'), stuck.el),
    section(t('ops.hooks'), hooks.el));

  let running = null;
  async function tick() {
    if (stopped) return;
    if (running) return running;
    running = Promise.allSettled([payment.refresh(), counts.refresh(), stuck.refresh()]).then(() => {
      running = null;
      if (!stopped) {
        stamp.dataset.state = 'live';
        stamp.textContent = t('ops.refresh', { at: new Date().toLocaleTimeString(document.documentElement.lang === 'en' ? 'en-GB' : 'ko-KR') });
      }
    });
    return running;
  }
  refreshNow.addEventListener('click', () => tick());

  // "Live": every 5 s while the page is visible; at once when it comes back into view.
  let interval = null;
  const start = () => { if (!interval) interval = setInterval(tick, EVERY); };
  const pause = () => {
    clearInterval(interval);
    interval = null;
    stamp.dataset.state = 'paused';
    stamp.textContent = t('ops.refresh_paused');
  };
  const onVisibility = () => {
    if (document.visibilityState === 'visible') { tick(); start(); } else pause();
  };
  document.addEventListener('visibilitychange', onVisibility);
  timers.push(() => document.removeEventListener('visibilitychange', onVisibility));

  await Promise.allSettled([tick(), hooks.refresh()]);
  if (document.visibilityState === 'visible') start();
  else pause();

  return () => {
    stopped = true;
    clearInterval(interval);
    for (const undo of timers) undo();
    counts.close();
  };
}

// ---------------------------------------------------------------------------------------------
// Payment breaker, the api's door, refund health

function paymentPanel() {
  const breakerState = h('p', {});
  const breakerDetail = h('p', { class: 'muted' });
  const doorState = h('p', {});
  const doorDetail = h('p', { class: 'muted' });
  const refundState = h('p', {});
  const refundDetail = h('div', { class: 'muted' });
  const error = h('p', { class: 'error', role: 'alert' });
  const workers = h('tbody');
  const workersTable = h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'sr-only' }, t('ops.workers')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('ops.worker')),
        h('th', { scope: 'col' }, t('ops.state')),
        h('th', { scope: 'col' }, t('ops.calls')),
        h('th', { scope: 'col' }, t('ops.failures')),
        h('th', { scope: 'col' }, t('ops.published')))),
      workers));
  const el = h('div', { class: 'stack' },
    h('div', { class: 'grid three' },
      h('article', { class: 'card', 'data-panel': 'breaker' }, h('h3', {}, t('ops.breaker')), breakerState, breakerDetail),
      h('article', { class: 'card', 'data-panel': 'door' }, h('h3', {}, t('ops.door')), doorState, doorDetail),
      h('article', { class: 'card', 'data-panel': 'refunds' }, h('h3', {}, t('ops.refunds')), refundState, refundDetail)),
    h('details', {}, h('summary', {}, t('ops.workers')), workersTable),
    error);

  const tone = (state) => (state === 'open' || state === 'stuck' ? 'bad' : state === 'closed' || state === 'ok' ? '' : 'done');
  let last = null;

  async function refresh() {
    let data;
    try {
      data = await get('/v1/ops/payment');
      error.textContent = '';
    } catch (err) {
      error.textContent = message(err);
      return;
    }
    const b = data.breaker;
    if (b) {
      mount(breakerState, badge(t(`ops.breaker.${b.state}`), tone(b.state)));
      breakerState.dataset.state = b.state;
      const lines = [t('ops.breaker.calls', {
        calls: b.calls ?? 0, failures: b.failures ?? 0, slow: b.slow_calls ?? 0,
        rate: Math.round((b.failure_rate ?? 0) * 100),
      })];
      if (b.state === 'open') {
        lines.push(b.retry_after_secs ? t('ops.breaker.retry', { secs: b.retry_after_secs }) : t('ops.breaker.next_probes'));
      }
      else if (b.seconds_in_state != null) lines.push(t('ops.breaker.since', { secs: duration(b.seconds_in_state) }));
      breakerDetail.textContent = lines.join(' · ');
    } else {
      mount(breakerState, badge(t('ops.breaker.none'), 'done'));
      breakerState.dataset.state = 'none';
      breakerDetail.textContent = '';
    }
    if (b && last && last !== b.state) announce(`${t('ops.breaker')}: ${t(`ops.breaker.${b.state}`)}`);
    last = b?.state ?? null;

    const door = data.door ?? {};
    mount(doorState, badge(t(`ops.door.${door.state}`), door.state === 'open' ? '' : door.state === 'shedding' ? 'bad' : 'done'));
    doorState.dataset.state = door.state ?? '';
    doorDetail.textContent = door.retry_after_secs ? t('ops.door.retry', { secs: door.retry_after_secs })
      : door.state === 'shedding' ? t('ops.door.next_probes') : '';

    const r = data.refunds ?? {};
    mount(refundState, badge(t(`ops.refunds.${r.state}`), tone(r.state)));
    refundState.dataset.state = r.state ?? '';
    mount(refundDetail,
      h('p', { 'data-pending': String(r.pending ?? 0) }, t('ops.refunds.count', { n: r.pending ?? 0 })),
      r.oldest_pending_since ? h('p', {}, t('ops.refunds.oldest', { at: when(r.oldest_pending_since) })) : null,
      r.last_error ? h('p', {}, t('ops.refunds.error', { error: r.last_error })) : null);

    mount(workers, (data.breakers ?? []).map((w) => h('tr', {},
      h('th', { scope: 'row' }, w.worker),
      h('td', {}, t(`ops.breaker.${w.breaker?.state}`)),
      h('td', { class: 'price' }, w.breaker?.calls ?? 0),
      h('td', { class: 'price' }, w.breaker?.failures ?? 0),
      h('td', {}, when(w.published_at)))));
  }

  return { el, refresh };
}

// ---------------------------------------------------------------------------------------------
// Orders by status: a count per open status (live), and the orders of the chosen one

function countsPanel() {
  const KEY = 'baedal.ops.status';
  let chosen = OPEN.includes(sessionStorage.getItem(KEY)) ? sessionStorage.getItem(KEY) : OPEN[0];
  let missing = false;
  const numbers = new Map();
  const buttons = OPEN.map((st) => {
    const n = h('span', { class: 'count price' }, '–');
    numbers.set(st, n);
    const b = h('button', {
      type: 'button',
      class: st === chosen ? 'primary' : '',
      'aria-pressed': String(st === chosen),
      'data-status': st,
      onclick: () => {
        chosen = st;
        sessionStorage.setItem(KEY, st);
        for (const other of buttons) {
          const on = other.dataset.status === st;
          other.className = on ? 'primary' : '';
          other.setAttribute('aria-pressed', String(on));
        }
        listTitle.textContent = t('ops.orders_of', { status: status(st) });
        mount(rows);
        refreshList();
      },
    }, status(st), ' ', n);
    return b;
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const listError = h('p', { class: 'error', role: 'alert' });
  const notice = h('p', { class: 'notice', hidden: true }, t('ops.counts_missing'));
  const listTitle = h('h3', {}, t('ops.orders_of', { status: status(chosen) }));
  const rows = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true }, t('ops.orders_none'));
  const table = h('div', { class: 'table-wrap' },
    h('table', { 'data-list': 'orders' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.order')),
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.store')),
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.customer')),
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.total')),
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.since')),
        h('th', { scope: 'col', class: 'keep-line' }, t('ops.links')))),
      rows));
  const el = h('div', { class: 'stack' },
    h('div', { class: 'row', role: 'group', 'aria-label': t('ops.counts_label') }, buttons),
    error, notice,
    h('div', { class: 'card stack' }, listTitle, table, empty, listError));

  async function refreshCounts() {
    if (missing) return;
    try {
      const { counts } = await get('/v1/ops/orders/counts');
      error.textContent = '';
      for (const st of OPEN) {
        const n = counts?.[st] ?? 0;
        const cell = numbers.get(st);
        if (cell.textContent !== String(n)) {
          cell.textContent = String(n);
          cell.dataset.count = String(n);
        }
      }
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'route_not_found' || err.status === 404 || err.status === 405)) {
        missing = true;
        notice.hidden = false;
        return;
      }
      error.textContent = message(err);
    }
  }

  let seq = 0;
  let shown = null;
  async function refreshList() {
    const mine = ++seq;
    const st = chosen;
    try {
      const { orders } = await get(`/v1/ops/orders?status=${encodeURIComponent(st)}&limit=50`);
      if (mine !== seq) return;
      listError.textContent = '';
      empty.hidden = orders.length > 0;
      table.hidden = orders.length === 0;
      // Rebuilt only when something changed, so a focused link keeps its focus.
      const shape = JSON.stringify([st, orders.map((o) => [o.id, o.since ?? o.updated_at])]);
      if (shape === shown) return;
      shown = shape;
      mount(rows, orders.map((o) => h('tr', { 'data-order': o.id },
        h('th', { scope: 'row', class: 'keep-line' }, h('code', { title: o.id }, shortId(o.id))),
        h('td', {}, o.store_name ?? storeName(o.store_id)),
        h('td', {}, o.customer_id),
        h('td', { class: 'price' }, won(o.total)),
        h('td', { class: 'keep-line' }, when(o.since ?? o.updated_at)),
        h('td', { class: 'keep-line' }, temporalAnchor(o.id, o.temporal_ui)))));
    } catch (err) {
      if (mine !== seq) return;
      if (err instanceof ApiError && (err.code === 'route_not_found' || err.status === 404 || err.status === 405)) {
        table.hidden = true;
        empty.hidden = true;
        listError.textContent = '';
        return;
      }
      listError.textContent = message(err);
    }
  }

  return {
    el,
    refresh: () => Promise.allSettled([refreshCounts(), missing ? null : refreshList()]),
    close() { seq++; },
  };
}

// ---------------------------------------------------------------------------------------------
// Stuck orders and the ops cancel

function stuckPanel(onChange) {
  const hint = h('p', { class: 'muted' });
  const list = h('ul', { class: 'plain', 'data-list': 'stuck' });
  const empty = h('p', { class: 'muted', hidden: true }, t('ops.stuck_none'));
  const error = h('p', { class: 'error', role: 'alert' });
  const doneList = h('ul', { class: 'plain', 'data-list': 'handled' });
  const doneSection = h('div', { hidden: true }, h('h3', {}, t('ops.done')), doneList);
  const el = h('div', { class: 'stack' }, hint, error, list, empty, doneSection);

  /** id → {el, stuckFor, busy}: rows stay in place across refreshes (an open form is kept). */
  const rows = new Map();
  /** id → {el, line, until}: orders canceled here, followed until their refund is through. */
  const handled = new Map();

  function row(o) {
    const stuckFor = h('span', {}, t('ops.stuck_for', { time: duration(o.stuck_for_secs) }));
    const refundLine = o.refund
      ? h('p', { class: 'muted' }, t('ops.stuck_refund', { status: t(`ops.refund.${o.refund.status}`), attempts: o.refund.attempts ?? 0 }),
        o.refund.last_error ? ` · ${o.refund.last_error}` : '')
      : null;
    const formSlot = h('div', {});
    const state = { stuckFor, busy: false, form: null, status: o.status, refund: o.refund };
    const cancelBtn = !o.refund && !TERMINAL.has(o.status)
      ? h('button', {
        type: 'button', class: 'danger', 'aria-expanded': 'false', 'aria-label': t('ops.cancel_for', { id: o.id }),
        onclick: () => {
          if (state.form) { closeForm(); return; }
          state.form = cancelForm(o, {
            onDone: (outcome) => { closeForm(); settled(o, outcome); },
            onClose: () => { closeForm(); cancelBtn.focus(); },
          });
          state.busy = true;
          cancelBtn.setAttribute('aria-expanded', 'true');
          mount(formSlot, state.form.el);
          state.form.focus();
        },
      }, t('ops.cancel'))
      : null;
    function closeForm() {
      state.form = null;
      state.busy = false;
      cancelBtn?.setAttribute('aria-expanded', 'false');
      mount(formSlot);
    }
    state.el = h('li', { class: 'card', 'data-order': o.id },
      h('div', { class: 'spread' },
        h('h3', { class: 'wrap-anywhere' }, h('code', {}, o.id)),
        badge(status(o.status), TERMINAL.has(o.status) ? 'done' : '')),
      h('p', {}, [
        `${t('ops.store')}: ${storeName(o.store_id)}`, ' · ', `${t('ops.customer')}: ${o.customer_id}`, ' · ',
        h('span', { class: 'price' }, won(o.total)),
      ]),
      h('p', { class: 'muted' }, stuckFor, ' · ', when(o.since)),
      refundLine,
      h('div', { class: 'row' }, cancelBtn, temporalAnchor(o.id, o.temporal_ui)),
      formSlot);
    return state;
  }

  function settled(o, { order, accepted }) {
    const id = o.id;
    const gone = rows.get(id);
    if (gone) { gone.el.remove(); rows.delete(id); }
    empty.hidden = rows.size > 0;
    announce(accepted ? t('ops.cancel_sent', { id }) : t('ops.canceled', { id }));
    const line = h('span', { 'data-refund': '' });
    const item = h('li', { class: 'card', 'data-order': id },
      h('p', { class: 'ok' }, accepted ? t('ops.cancel_sent', { id }) : t('ops.canceled', { id })),
      h('p', {}, line, ' ', temporalAnchor(id, o.temporal_ui)));
    handled.set(id, { el: item, line, until: Date.now() + 60_000 });
    doneList.prepend(item);
    doneSection.hidden = false;
    showRefund(id, order);
    onChange();
  }

  function showRefund(id, order) {
    const entry = handled.get(id);
    if (!entry) return;
    if (!order || (order.status !== 'canceled' && !TERMINAL.has(order.status))) {
      entry.line.textContent = t('ops.done_waiting');
      entry.line.dataset.refund = 'waiting';
    } else if (order.refund) {
      entry.line.textContent = t('ops.done_refund', { status: t(`ops.refund.${order.refund.status}`) });
      entry.line.dataset.refund = order.refund.status;
    } else {
      entry.line.textContent = t('ops.done_no_refund');
      entry.line.dataset.refund = 'none';
    }
  }

  async function followHandled() {
    await Promise.allSettled([...handled].map(async ([id, entry]) => {
      if (entry.line.dataset.refund === 'succeeded' || entry.line.dataset.refund === 'none' || Date.now() > entry.until) return;
      try { showRefund(id, await get(`/v1/orders/${encodeURIComponent(id)}`)); } catch { /* next tick */ }
    }));
  }

  async function refresh() {
    let data;
    try {
      data = await get('/v1/ops/orders/stuck?limit=100');
      error.textContent = '';
    } catch (err) {
      error.textContent = message(err);
      return;
    }
    hint.textContent = t('ops.stuck_hint', { after: duration(data.stuck_after_secs) });
    const seen = new Set();
    let previous = null;
    for (const o of data.orders) {
      if (handled.has(o.id) && !o.refund) continue; // canceled here, the read model not caught up
      seen.add(o.id);
      let r = rows.get(o.id);
      if (r && !r.busy && (r.status !== o.status || Boolean(r.refund) !== Boolean(o.refund))) {
        const fresh = row(o);
        r.el.replaceWith(fresh.el);
        r = fresh;
        rows.set(o.id, r);
      }
      if (!r) {
        r = row(o);
        rows.set(o.id, r);
      } else {
        r.stuckFor.textContent = t('ops.stuck_for', { time: duration(o.stuck_for_secs) });
      }
      // Oldest first, as the api answers; an existing row is only moved when out of place.
      const want = previous ? previous.nextSibling : list.firstChild;
      if (want !== r.el) list.insertBefore(r.el, want);
      previous = r.el;
    }
    for (const [id, r] of rows) {
      if (!seen.has(id) && !r.busy) { r.el.remove(); rows.delete(id); }
    }
    empty.hidden = rows.size > 0;
    await followHandled();
  }

  return { el, refresh };
}

/** The ops cancel of one order: a required reason, then 200 (canceled) or 202 (on its way). */
function cancelForm(o, { onDone, onClose }) {
  const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 300, required: true });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'danger' }, t('ops.cancel_confirm'));
  const el = h('form', { class: 'stack', novalidate: true, 'aria-label': t('ops.cancel_for', { id: o.id }) },
    field(t('ops.reason'), reason, t('ops.reason_hint')),
    h('div', { class: 'row' }, submit, h('button', { type: 'button', onclick: onClose }, t('ops.cancel_back'))),
    error);
  reason.addEventListener('keydown', (e) => { if (e.key === 'Escape') onClose(); });
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = t('ops.reason_required');
      reason.setAttribute('aria-invalid', 'true');
      reason.focus();
      return;
    }
    reason.removeAttribute('aria-invalid');
    error.textContent = '';
    submit.disabled = true;
    try {
      const res = await fetchCancel(o.id, text);
      onDone(res);
    } catch (err) {
      error.textContent = message(err);
      submit.disabled = false;
    }
  });
  return { el, focus: () => reason.focus() };
}

/** POST the ops cancel; 202 (a Temporal cancel request on its way) is told apart from 200. */
async function fetchCancel(id, reason) {
  const who = current();
  let res;
  try {
    res = await fetch(`/v1/ops/orders/${encodeURIComponent(id)}/cancel`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...(who ? { authorization: `Bearer ${who.token}` } : {}) },
      body: JSON.stringify({ reason }),
    });
  } catch {
    throw new ApiError(0, 'network', t('error.network'), null);
  }
  if (!res.ok) throw await ApiError.from(res);
  let order = null;
  try { order = await res.json(); } catch { /* 202 may carry no order */ }
  return { order: order && order.id ? order : null, accepted: res.status === 202 };
}

// ---------------------------------------------------------------------------------------------
// Webhooks

function hooksPanel() {
  const list = h('ul', { class: 'plain', 'data-list': 'hooks' });
  const error = h('p', { class: 'error', role: 'alert' });
  const refreshBtn = h('button', { type: 'button', class: 'link' }, t('ops.hooks_reload'));
  const el = h('div', { class: 'stack' }, h('div', { class: 'row' }, refreshBtn), error, list);
  refreshBtn.addEventListener('click', () => refresh());

  async function refresh() {
    let hooks;
    try {
      ({ hooks } = await get('/v1/hooks'));
      error.textContent = '';
    } catch (err) {
      if (err instanceof ApiError && err.code === 'hooks_unavailable') {
        mount(list, h('li', { class: 'muted' }, t('ops.hooks_off')));
        return;
      }
      error.textContent = message(err);
      return;
    }
    mount(list, hooks.length ? hooks.map(hookCard) : h('li', { class: 'muted' }, t('ops.hooks_none')));
  }

  return { el, refresh };
}

function hookCard(hook) {
  const disabled = Boolean(hook.disabled_at);
  const events = (hook.events ?? []).includes('*') ? t('ops.hook.all_events') : (hook.events ?? []).join(', ');
  const deliveries = h('div', {});
  const error = h('p', { class: 'error', role: 'alert' });
  let open = false;
  const toggle = h('button', { type: 'button', 'aria-expanded': 'false' }, t('ops.hook.deliveries'));
  toggle.addEventListener('click', async () => {
    open = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? t('ops.hook.hide') : t('ops.hook.deliveries');
    if (!open) { mount(deliveries); error.textContent = ''; return; }
    mount(deliveries, h('p', { class: 'loading' }, t('loading')));
    try {
      const { deliveries: items } = await get(`/v1/hooks/${encodeURIComponent(hook.id)}/deliveries?limit=20`);
      mount(deliveries, items.length ? deliveryTable(items) : h('p', { class: 'muted' }, t('ops.hook.no_deliveries')));
    } catch (err) {
      mount(deliveries);
      error.textContent = message(err);
    }
  });
  return h('li', { class: 'card stack', 'data-hook': hook.id },
    h('div', { class: 'spread' },
      h('h3', { class: 'wrap-anywhere' }, hook.url),
      badge(disabled ? t('ops.hook.disabled') : t('ops.hook.active'), disabled ? 'bad' : '')),
    h('p', { class: 'muted' }, t('ops.hook.events', { events }), ' · ', t('ops.hook.created', { at: when(hook.created_at) })),
    disabled && hook.disabled_reason ? h('p', {}, t('ops.hook.disabled_reason', { reason: hook.disabled_reason })) : null,
    h('div', { class: 'row' }, toggle),
    deliveries, error);
}

function deliveryTable(items) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('ops.delivery.event')),
        h('th', { scope: 'col' }, t('ops.order')),
        h('th', { scope: 'col' }, t('ops.delivery.status')),
        h('th', { scope: 'col' }, t('ops.delivery.attempts')),
        h('th', { scope: 'col' }, t('ops.delivery.at')))),
      h('tbody', {}, items.map((d) => h('tr', {},
        h('td', {}, d.event_type),
        h('td', {}, h('code', { title: d.order_id }, shortId(d.order_id))),
        h('td', {}, badge(t(`ops.delivery.${d.status}`), d.status === 'failed' || d.status === 'abandoned' ? 'bad' : d.status === 'pending' ? 'done' : ''),
          d.last_error ? h('small', { class: 'muted' }, ` ${d.last_error}`) : null,
          d.last_status_code ? h('small', { class: 'muted' }, ` (${d.last_status_code})`) : null),
        h('td', { class: 'price' }, d.attempts),
        h('td', {}, when(d.delivered_at ?? d.next_attempt_at ?? d.created_at)))))));
}
