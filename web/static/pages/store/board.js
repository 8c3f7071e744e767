// Store owner: the live board of the store's orders. The list (GET /v1/store/orders) and the
// store's stream (GET /v1/store/orders/events) are merged by each order's `version`, so an event
// that arrives while the list loads is neither lost nor undone. A new order rings (a beep made
// with the Web Audio API, once the owner has switched sound on: browsers allow audio only after
// a click), flashes and is announced to screen readers. Orders that wait too long are flagged.

import { h, mount, announce, field } from '../../lib/dom.js';
import { t, words, won, clock, status, TERMINAL } from '../../lib/i18n.js';
import { get, post, follow, ApiError } from '../../lib/api.js';
import { current } from '../../lib/session.js';

words({
  ko: {
    'board.title': '주문 현황',
    'board.col.new': '새 주문',
    'board.col.accepted': '수락함',
    'board.col.cooking': '조리 중',
    'board.col.ready': '픽업 대기',
    'board.col.rider': '배달 중',
    'board.empty': '없음',
    'board.count': '{n}건',
    'board.sound_on': '소리 켜기',
    'board.sound_off': '소리 끄기',
    'board.sound_hint': '새 주문이 오면 알림음을 울립니다.',
    'board.order': '주문 {id}',
    'board.placed_at': '{time} 주문',
    'board.waited': '{min}분 경과',
    'board.item': '{name} × {qty}',
    'board.to': '배달지: {address}',
    'board.rider': '배달원: {rider}',
    'board.accept': '수락',
    'board.reject': '거절',
    'board.reject_reason': '거절 사유',
    'board.reject_hint': '고객에게 전달됩니다 (300자 이내).',
    'board.reject_go': '거절하기',
    'board.reject_cancel': '닫기',
    'board.reason_required': '거절 사유를 입력하세요.',
    'board.start_cooking': '조리 시작',
    'board.finish_cooking': '조리 완료',
    'board.new_order': '새 주문이 들어왔습니다: {items}, {total}',
    'board.moved': '주문 {id}: {status}',
    'board.stuck': '오래 기다린 주문이 {n}건 있습니다. 먼저 처리하세요.',
    'board.stuck_placed': '{min}분째 수락 대기 — {limit}분이 지나면 자동으로 거절됩니다',
    'board.stuck_accepted': '{min}분째 조리 시작 전',
    'board.stuck_cooking': '{min}분째 조리 중',
    'board.more': '주문이 많아 최근 주문만 표시합니다.',
  },
  en: {
    'board.title': 'Orders',
    'board.col.new': 'New',
    'board.col.accepted': 'Accepted',
    'board.col.cooking': 'Cooking',
    'board.col.ready': 'Ready for pickup',
    'board.col.rider': 'With the rider',
    'board.empty': 'None',
    'board.count': '{n}',
    'board.sound_on': 'Turn sound on',
    'board.sound_off': 'Turn sound off',
    'board.sound_hint': 'A chime plays when a new order arrives.',
    'board.order': 'Order {id}',
    'board.placed_at': 'placed {time}',
    'board.waited': '{min} min ago',
    'board.item': '{name} × {qty}',
    'board.to': 'To: {address}',
    'board.rider': 'Rider: {rider}',
    'board.accept': 'Accept',
    'board.reject': 'Reject',
    'board.reject_reason': 'Reason for rejecting',
    'board.reject_hint': 'The customer sees it (at most 300 characters).',
    'board.reject_go': 'Reject the order',
    'board.reject_cancel': 'Close',
    'board.reason_required': 'Give a reason for rejecting.',
    'board.start_cooking': 'Start cooking',
    'board.finish_cooking': 'Cooking done',
    'board.new_order': 'New order: {items}, {total}',
    'board.moved': 'Order {id}: {status}',
    'board.stuck': '{n} orders have waited too long. Handle them first.',
    'board.stuck_placed': 'waiting {min} min to be accepted — rejected automatically after {limit} min',
    'board.stuck_accepted': 'accepted {min} min ago, not cooking yet',
    'board.stuck_cooking': 'cooking for {min} min',
    'board.more': 'Many orders: only the newest are shown.',
  },
});

/** The board's columns and the statuses each shows. */
const COLUMNS = [
  ['new', ['placed']],
  ['accepted', ['accepted']],
  ['cooking', ['cooking']],
  ['ready', ['ready_for_pickup']],
  ['rider', ['rider_assigned', 'picked_up']],
];
const ON_BOARD = new Set(COLUMNS.flatMap(([, statuses]) => statuses));

/**
 * When an order has waited too long in a status (minutes since its last change). The store has
 * the api's `accept_within_secs` (`BAEDAL_STORE_ACCEPT_TIMEOUT`, 10 min by default; the first
 * page of the board says it) to accept before the order is rejected for it, and is warned at
 * half of it; the ops stuck list (`BAEDAL_STUCK_AFTER`, 45 min) is ops-only, so the store is
 * warned well before.
 */
export const STUCK_MINUTES = { placed: 5, accepted: 10, cooking: 30 };
let acceptMinutes = 10;

const SOUND_KEY = 'baedal.store.sound';

/** Minutes since `at` (RFC 3339). */
const minutesSince = (at) => Math.max(0, Math.floor((Date.now() - Date.parse(at)) / 60_000));
const shortId = (id) => id.replace(/^ord_/, '').slice(0, 8);

/** A chime made in the page (two short sine tones): no audio file to fetch. */
class Chime {
  constructor() {
    this.ctx = null;
  }

  get on() {
    return this.ctx?.state === 'running';
  }

  /** Called from a click, so the browser lets the context start. */
  async enable() {
    const Ctx = window.AudioContext ?? window.webkitAudioContext;
    if (!Ctx) return false;
    this.ctx ??= new Ctx();
    try { await this.ctx.resume(); } catch { /* stays suspended */ }
    return this.on;
  }

  async disable() {
    if (this.ctx) await this.ctx.suspend().catch(() => {});
  }

  ring() {
    if (!this.on) return;
    const now = this.ctx.currentTime;
    [[880, 0], [660, 0.22]].forEach(([freq, delay]) => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + delay);
      gain.gain.exponentialRampToValueAtTime(0.3, now + delay + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + delay + 0.2);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(now + delay);
      osc.stop(now + delay + 0.22);
    });
  }

  close() {
    this.ctx?.close().catch(() => {});
  }
}

export async function render(main) {
  const who = current();
  /** id → the newest order view seen. */
  const orders = new Map();
  let loaded = false;
  const early = [];
  const chime = new Chime();

  const liveState = h('p', { class: 'live-state', 'data-state': 'connecting', role: 'status' }, t('loading'));
  const soundBtn = h('button', { type: 'button', 'aria-pressed': 'false', 'aria-describedby': 'sound-hint' }, t('board.sound_on'));
  const stuckNote = h('p', { class: 'stuck-note', role: 'status' });
  const listError = h('p', { class: 'error', role: 'alert' });
  const moreNote = h('p', { class: 'muted' });
  const columns = new Map(COLUMNS.map(([key]) => {
    const list = h('ul', { class: 'plain stack board-list' });
    const count = h('span', { class: 'badge' });
    const heading = h('h2', { id: `col-${key}` }, t(`board.col.${key}`), ' ', count);
    const empty = h('li', { class: 'muted' }, t('board.empty'));
    return [key, { el: h('section', { class: 'board-col', 'aria-labelledby': `col-${key}` }, heading, list), list, count, empty }];
  }));
  /** Per-order cards, kept across renders so an open reject form or a focused button survives. */
  const cards = new Map();

  const syncSound = () => {
    soundBtn.setAttribute('aria-pressed', String(chime.on));
    soundBtn.textContent = chime.on ? t('board.sound_off') : t('board.sound_on');
    soundBtn.classList.toggle('primary', chime.on);
  };
  soundBtn.addEventListener('click', async () => {
    if (chime.on) {
      await chime.disable();
      localStorage.setItem(SOUND_KEY, 'off');
    } else if (await chime.enable()) {
      localStorage.setItem(SOUND_KEY, 'on');
      chime.ring();
    }
    syncSound();
  });
  // A browser that already lets this site play sound needs no click.
  if (localStorage.getItem(SOUND_KEY) === 'on' && navigator.userActivation?.hasBeenActive) {
    chime.enable().then(syncSound);
  }

  const title = h('h1', { tabindex: '-1' }, t('board.title'));
  get('/v1/stores?limit=100').then(({ stores }) => {
    const mine = stores.find((st) => st.id === who?.store_id);
    if (mine) title.textContent = `${t('board.title')} · ${mine.name}`;
  }).catch(() => { /* the title without the name */ });

  mount(main,
    h('div', { class: 'spread' }, title, liveState),
    h('div', { class: 'row' }, soundBtn, h('small', { id: 'sound-hint', class: 'hint' }, t('board.sound_hint'))),
    stuckNote,
    listError,
    h('div', { class: 'board' }, [...columns.values()].map((c) => c.el)),
    moreNote);

  function card(order) {
    let c = cards.get(order.id);
    if (!c) {
      c = {
        li: h('li', { class: 'card order-card', 'data-order-id': order.id, tabindex: '-1' }),
        body: h('div', {}),
        actions: h('div', { class: 'row' }),
        form: null,
        error: h('p', { class: 'error', role: 'alert' }),
        busy: false,
      };
      c.li.append(c.body, c.actions, c.error);
      cards.set(order.id, c);
    }
    const waited = minutesSince(order.updated_at);
    const limit = STUCK_MINUTES[order.status];
    const stuck = limit != null && waited >= limit;
    // Rebuild only what changed, so a focused button survives another order's event and the
    // clock's tick (the ages change every minute; the buttons only with the order).
    const memo = `${order.version}|${c.busy}|${!!c.form}|${waited}|${minutesSince(order.created_at)}`;
    if (c.memo === memo) return c.li;
    c.memo = memo;
    const actionsMemo = `${order.version}|${c.busy}|${!!c.form}`;
    c.li.classList.toggle('stuck', stuck);
    mount(c.body,
      h('div', { class: 'spread' },
        h('h3', {}, t('board.order', { id: shortId(order.id) })),
        h('span', { class: stuck ? 'badge bad' : 'badge' }, status(order.status))),
      h('p', { class: 'muted' }, t('board.placed_at', { time: clock(order.created_at) }), ' · ', t('board.waited', { min: minutesSince(order.created_at) })),
      h('ul', { class: 'items' }, order.items.map((it) => h('li', {}, t('board.item', { name: it.name, qty: it.quantity })))),
      h('p', { class: 'spread' }, h('span', {}, t('board.to', { address: order.delivery?.address ?? '' })), h('strong', { class: 'price' }, won(order.total))),
      order.rider_id ? h('p', {}, t('board.rider', { rider: order.rider_id })) : null,
      stuck ? h('p', { class: 'notice stuck-warning' }, t(`board.stuck_${order.status}`, { min: waited, limit: acceptMinutes })) : null);
    if (c.actionsMemo === actionsMemo) return c.li;
    c.actionsMemo = actionsMemo;
    const act = (label, path, cls, body) => h('button', {
      type: 'button', class: cls, disabled: c.busy, 'data-key': `${path}:${order.id}`,
      onclick: () => command(order, path, body),
    }, label, h('span', { class: 'sr-only' }, ` ${t('board.order', { id: shortId(order.id) })}`));
    const buttons = [];
    if (order.status === 'placed') {
      buttons.push(act(t('board.accept'), 'accept', 'primary'));
      buttons.push(h('button', {
        type: 'button', class: 'danger', disabled: c.busy, 'aria-expanded': String(!!c.form), 'data-key': `reject:${order.id}`,
        onclick: () => { toggleReject(order); },
      }, t('board.reject'), h('span', { class: 'sr-only' }, ` ${t('board.order', { id: shortId(order.id) })}`)));
    } else if (order.status === 'accepted') {
      buttons.push(act(t('board.start_cooking'), 'start-cooking', 'primary'));
    } else if (order.status === 'cooking') {
      buttons.push(act(t('board.finish_cooking'), 'finish-cooking', 'primary'));
    }
    if (order.status !== 'placed' && c.form) { c.form.remove(); c.form = null; }
    mount(c.actions, buttons);
    if (c.form) c.li.insertBefore(c.form, c.error);
    return c.li;
  }

  function toggleReject(order) {
    const c = cards.get(order.id);
    if (c.form) {
      c.form.remove();
      c.form = null;
      draw();
      main.querySelector(`[data-key="${CSS.escape(`reject:${order.id}`)}"]`)?.focus();
      return;
    }
    const reason = h('input', { name: 'reason', maxlength: 300, required: true, autocomplete: 'off' });
    const formError = h('p', { class: 'error', role: 'alert' });
    c.form = h('form', { class: 'stack reject-form', novalidate: true },
      field(t('board.reject_reason'), reason, t('board.reject_hint')),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'danger' }, t('board.reject_go')),
        h('button', { type: 'button', class: 'link', onclick: () => toggleReject(order) }, t('board.reject_cancel'))),
      formError);
    c.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        formError.textContent = t('board.reason_required');
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      reason.removeAttribute('aria-invalid');
      command(orders.get(order.id) ?? order, 'reject', { reason: text }, formError);
    });
    draw();
    reason.focus();
  }

  async function command(order, action, body, errorEl) {
    const c = cards.get(order.id);
    const where = errorEl ?? c.error;
    where.textContent = '';
    c.error.textContent = '';
    c.busy = true;
    draw();
    try {
      const updated = await post(`/v1/store/orders/${encodeURIComponent(order.id)}/${action}`, body ?? {});
      c.busy = false;
      apply(updated, false);
      draw();
      // The order moved to another column: keep the keyboard on it.
      const moved = cards.get(order.id);
      if (moved?.li.isConnected) (moved.actions.querySelector('button') ?? moved.li).focus({ preventScroll: true });
    } catch (err) {
      c.busy = false;
      draw();
      where.textContent = err instanceof ApiError ? err.userMessage : String(err);
    }
  }

  /** Keep the newest view of an order; a new order rings. */
  function apply(order, live) {
    const old = orders.get(order.id);
    if (old && (old.version ?? 0) >= (order.version ?? 0)) return;
    orders.set(order.id, order);
    if (live && !old && order.status === 'placed') {
      fresh.add(order.id);
      chime.ring();
      announce(t('board.new_order', {
        items: order.items.map((it) => t('board.item', { name: it.name, qty: it.quantity })).join(', '),
        total: won(order.total),
      }));
    } else if (live && old && old.status !== order.status) {
      announce(t('board.moved', { id: shortId(order.id), status: status(order.status) }));
    }
    draw();
  }

  const fresh = new Set();

  function draw() {
    const focused = document.activeElement;
    let stuck = 0;
    for (const [key, statuses] of COLUMNS) {
      const col = columns.get(key);
      const here = [...orders.values()]
        .filter((o) => statuses.includes(o.status))
        .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      const want = here.length ? here.map(card) : [col.empty];
      const have = [...col.list.children];
      if (want.length !== have.length || want.some((li, i) => li !== have[i])) mount(col.list, want);
      col.count.textContent = t('board.count', { n: here.length });
      stuck += here.filter((o) => STUCK_MINUTES[o.status] != null && minutesSince(o.updated_at) >= STUCK_MINUTES[o.status]).length;
    }
    for (const id of [...cards.keys()]) {
      if (!ON_BOARD.has(orders.get(id)?.status)) cards.delete(id);
    }
    for (const id of fresh) {
      const li = cards.get(id)?.li;
      if (li) {
        li.classList.remove('flash');
        void li.offsetWidth; // restart the animation
        li.classList.add('flash');
        li.addEventListener('animationend', () => li.classList.remove('flash'), { once: true });
      }
    }
    fresh.clear();
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
    else if (focused && focused !== document.body && !focused.isConnected) {
      // The focused control was rebuilt (the same button of the same order) or left with its
      // order (canceled, taken by another device): keep the keyboard on the board.
      const key = focused.dataset?.key;
      const again = key && main.querySelector(`[data-key="${CSS.escape(key)}"]`);
      (again ?? title).focus({ preventScroll: true });
    }
    stuckNote.textContent = stuck ? t('board.stuck', { n: stuck }) : '';
    stuckNote.classList.toggle('notice', stuck > 0);
  }

  function replace(list) {
    for (const id of [...orders.keys()]) orders.delete(id);
    for (const o of list) if (ON_BOARD.has(o.status)) orders.set(o.id, o);
    draw();
  }

  const stream = follow('/v1/store/orders/events', (type, data) => {
    if (type === 'reset') {
      replace(data.orders ?? []);
      return;
    }
    if (!data || typeof data !== 'object' || !data.id) return;
    if (!loaded) early.push(data);
    else apply(data, true);
  }, (state, err) => {
    liveState.dataset.state = state;
    liveState.textContent = state === 'live' ? t('live.on') : state === 'ended' ? (err?.userMessage ?? t('live.ended')) : t('live.reconnecting');
  });

  try {
    // Open orders come first; a page that ends in a closed one holds every open order.
    let cursor = null;
    const seen = [];
    for (let page = 0; page < 5; page++) {
      const res = await get(`/v1/store/orders?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...res.orders);
      if (res.accept_within_secs > 0) {
        acceptMinutes = Math.max(1, Math.round(res.accept_within_secs / 60));
        STUCK_MINUTES.placed = Math.max(1, Math.floor(acceptMinutes / 2));
      }
      cursor = res.next_cursor;
      if (!cursor || res.orders.some((o) => TERMINAL.has(o.status))) break;
      if (page === 4) moreNote.textContent = t('board.more');
    }
    for (const o of seen) if (ON_BOARD.has(o.status)) apply(o, false);
  } catch (err) {
    listError.textContent = err instanceof ApiError ? err.userMessage : String(err);
  }
  loaded = true;
  for (const o of early.splice(0)) apply(o, true);
  draw();

  // Ages and stuck warnings move with the clock.
  const tick = setInterval(draw, 30_000);
  return () => {
    stream.close();
    clearInterval(tick);
    chime.close();
  };
}
