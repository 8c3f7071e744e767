// Customer: one order, live. The status timeline lists every step from the start (no layout
// shift as events arrive), fed by the order's SSE stream (status events carry the order view;
// `eta` events the rider's estimate and position); the map shows the store, the delivery point
// and the rider; cancel while the store has not started cooking (after a confirmation), confirm
// once delivered, the refund's progress, and a tracking link to share.

import { h, mount, section, announce } from '../../lib/dom.js';
import { t, words, won, clock, status, TERMINAL } from '../../lib/i18n.js';
import { get, post, follow, ApiError } from '../../lib/api.js';
import { liveMap } from '../../lib/map.js';

words({
  ko: {
    'order.title': '주문 상세',
    'order.back': '← 주문 내역',
    'order.placed_flash': '주문이 접수되었습니다. 결제 금액 {total}',
    'order.progress': '진행 상황',
    'order.eta': '도착 예정',
    'order.eta_wait': '배달원이 배정되면 도착 예정 시간을 알려 드립니다.',
    'order.eta_unknown': '배달원의 위치를 기다리는 중입니다.',
    'order.eta_value': '약 {minutes}분 후 도착 ({at} 도착 예정)',
    'order.eta_done': '배달이 끝났습니다.',
    'order.eta_ended': '이 주문은 끝났습니다.',
    'order.map': '배달 지도',
    'order.items': '주문 내용',
    'order.total': '결제 금액',
    'order.payment': '결제',
    'order.payment_status': '결제 상태: {status}',
    'order.pay.succeeded': '결제 완료',
    'order.pay.refunded': '환불됨',
    'order.pay.voided': '결제 취소됨',
    'order.pay.declined': '거절됨',
    'order.refund': '환불',
    'order.refund_none': '환불 내역이 없습니다.',
    'order.refund_pending': '{amount} 환불 진행 중',
    'order.refund_attempts': '(시도 {n}회)',
    'order.refund_waiting': '환불을 준비하고 있습니다.',
    'order.refund_succeeded': '{amount} 환불 완료',
    'order.reason': '사유: {reason}',
    'order.cancel': '주문 취소',
    'order.cancel_ask': '정말 이 주문을 취소할까요? 결제 금액은 전액 환불됩니다.',
    'order.cancel_yes': '네, 취소합니다',
    'order.cancel_no': '아니요',
    'order.canceled': '주문을 취소했습니다.',
    'order.cancel_hint': '가게가 조리를 시작하기 전까지 취소할 수 있습니다.',
    'order.confirm': '잘 받았어요 (수령 확인)',
    'order.confirmed': '수령을 확인했습니다. 감사합니다!',
    'order.share': '추적 링크 공유',
    'order.share_hint': '받는 사람은 로그인 없이 주문 상태와 도착 예정 시간만 볼 수 있습니다. 주문이 끝나면 링크도 만료됩니다.',
    'order.link': '추적 링크',
    'order.copy': '복사',
    'order.copied': '링크를 복사했습니다.',
    'order.copy_failed': '복사하지 못했습니다. 링크를 직접 선택해 복사하세요.',
    'order.rider': '배달원: {rider}',
    'order.at': '{time} 주문',
    'order.changed': '주문 상태: {status}',
    'order.again': '이 가게에서 다시 주문하기',
  },
  en: {
    'order.title': 'Order',
    'order.back': '← My orders',
    'order.placed_flash': 'Your order was placed. Charged {total}',
    'order.progress': 'Progress',
    'order.eta': 'Arrival',
    'order.eta_wait': 'We will show the arrival time once a rider has your order.',
    'order.eta_unknown': 'Waiting for the rider’s position.',
    'order.eta_value': 'In about {minutes} min (by {at})',
    'order.eta_done': 'Delivered.',
    'order.eta_ended': 'This order has ended.',
    'order.map': 'Delivery map',
    'order.items': 'Items',
    'order.total': 'Total charged',
    'order.payment': 'Payment',
    'order.payment_status': 'Payment: {status}',
    'order.pay.succeeded': 'paid',
    'order.pay.refunded': 'refunded',
    'order.pay.voided': 'voided',
    'order.pay.declined': 'declined',
    'order.refund': 'Refund',
    'order.refund_none': 'No refund.',
    'order.refund_pending': 'Refunding {amount}',
    'order.refund_attempts': '({n} attempts)',
    'order.refund_waiting': 'Preparing your refund.',
    'order.refund_succeeded': '{amount} refunded',
    'order.reason': 'Reason: {reason}',
    'order.cancel': 'Cancel order',
    'order.cancel_ask': 'Cancel this order? You get the full amount back.',
    'order.cancel_yes': 'Yes, cancel it',
    'order.cancel_no': 'No',
    'order.canceled': 'Order canceled.',
    'order.cancel_hint': 'You can cancel until the store starts cooking.',
    'order.confirm': 'I got it (confirm delivery)',
    'order.confirmed': 'Delivery confirmed. Thank you!',
    'order.share': 'Share a tracking link',
    'order.share_hint': 'Whoever opens it sees only the status and arrival time, without signing in. It expires when the order ends.',
    'order.link': 'Tracking link',
    'order.copy': 'Copy',
    'order.copied': 'Link copied.',
    'order.copy_failed': 'Could not copy. Select the link and copy it.',
    'order.rider': 'Rider: {rider}',
    'order.at': 'Ordered at {time}',
    'order.changed': 'Order status: {status}',
    'order.again': 'Order again from this store',
  },
});

/** The way an order goes when nothing goes wrong: every step is listed from the start. */
export const STEPS = ['placed', 'accepted', 'cooking', 'ready_for_pickup', 'rider_assigned', 'picked_up', 'delivered', 'completed'];
const payment = (st) => {
  const said = t(`order.pay.${st}`);
  return said === `order.pay.${st}` ? st : said;
};
const CANCELABLE = new Set(['placed', 'accepted']);
const EN_ROUTE = new Set(['rider_assigned', 'picked_up']);

/** A `<ol class="timeline">` of every step, and `update(status, history)` to mark progress. */
export function timeline() {
  const rows = STEPS.map((st) => h('li', { dataset: { step: st } },
    h('span', { class: 'step-name' }, status(st)),
    h('span', { class: 'muted step-time' }, '')));
  const el = h('ol', { class: 'timeline', 'aria-label': t('order.progress') }, rows);
  return {
    el,
    update(current, history = []) {
      // Reached: every step up to the furthest the order got to (a release puts a claimed
      // order back to ready_for_pickup: progress follows the current status then).
      let reach = STEPS.indexOf(current);
      if (reach < 0) {
        // An exit (canceled, rejected): the steps it passed stay marked.
        for (const e of history) reach = Math.max(reach, STEPS.indexOf(e.status));
      }
      STEPS.forEach((st, i) => {
        const row = rows[i];
        const at = [...history].reverse().find((e) => e.status === st)?.at;
        row.classList.toggle('reached', i <= reach);
        row.classList.toggle('current', st === current);
        if (st === current) row.setAttribute('aria-current', 'step');
        else row.removeAttribute('aria-current');
        row.querySelector('.step-time').textContent = i <= reach && at ? clock(at) : '';
      });
    },
  };
}

/** The estimate in words: `{minutes, arrive_by}`. */
export function etaText(eta) {
  return t('order.eta_value', { minutes: Math.max(1, Math.round(eta.minutes)), at: clock(eta.arrive_by) });
}

export async function render(main, { id }) {
  let view;
  try {
    view = await get(`/v1/orders/${encodeURIComponent(id)}`);
  } catch (err) {
    mount(main, h('p', {}, h('a', { href: '#/customer/orders' }, t('order.back'))),
      h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? err.userMessage : String(err)));
    return;
  }

  let eta = view.eta ?? null;
  let stream = null;
  let poll = null;
  let closed = false;

  // ---- the parts that are always there (only their contents change) --------------------
  const badge = h('span', { class: 'badge', id: 'order-status' });
  const liveState = h('p', { class: 'live-state', 'aria-live': 'off' });
  const reason = h('p', { class: 'muted order-reason' });
  const steps = timeline();
  const etaEl = h('span', { class: 'eta', id: 'order-eta' });
  const map = liveMap(t('order.map'));
  const refundEl = h('p', { class: 'refund', id: 'order-refund' });
  const paymentEl = h('p', { class: 'muted' });
  const actionError = h('p', { class: 'error', role: 'alert' });
  const actionOk = h('p', { class: 'ok', role: 'status' });

  const cancelBtn = h('button', { type: 'button', class: 'danger', 'data-key': 'cancel' }, t('order.cancel'));
  const cancelHint = h('small', { class: 'hint' }, t('order.cancel_hint'));
  const cancelYes = h('button', { type: 'button', class: 'danger' }, t('order.cancel_yes'));
  const cancelNo = h('button', { type: 'button' }, t('order.cancel_no'));
  const cancelAsk = h('div', { class: 'notice stack', role: 'group', 'aria-labelledby': 'cancel-ask', hidden: true },
    h('p', { id: 'cancel-ask' }, t('order.cancel_ask')),
    h('div', { class: 'row' }, cancelYes, cancelNo));
  const confirmBtn = h('button', { type: 'button', class: 'primary' }, t('order.confirm'));
  const shareBtn = h('button', { type: 'button' }, t('order.share'));
  const linkInput = h('input', { type: 'url', readonly: true, id: 'track-link' });
  const copyBtn = h('button', { type: 'button' }, t('order.copy'));
  const linkBox = h('div', { class: 'stack', hidden: true },
    h('div', { class: 'field' }, h('label', { for: 'track-link' }, t('order.link')),
      h('div', { class: 'row nowrap' }, linkInput, copyBtn)));
  // Once the order has ended the actions give way to the way back to the store's menu.
  const againLink = h('a', { href: `#/customer/stores/${encodeURIComponent(view.store_id)}`, hidden: true }, t('order.again'));
  const shareBox = h('div', { class: 'stack' }, h('div', {}, shareBtn), h('p', { class: 'hint' }, t('order.share_hint')), linkBox);

  const flash = sessionStorage.getItem('baedal.placed') === view.id
    ? h('p', { class: 'notice placed-flash', role: 'status' }, t('order.placed_flash', { total: won(view.total) }))
    : null;
  sessionStorage.removeItem('baedal.placed');

  mount(main,
    h('p', {}, h('a', { href: '#/customer/orders' }, t('order.back'))),
    h('div', { class: 'spread' }, h('h1', {}, `${t('order.title')} · ${view.store_name}`), liveState),
    flash,
    h('div', { class: 'card stack' },
      h('div', { class: 'spread' }, badge, h('span', { class: 'muted' }, t('order.at', { time: clock(view.created_at) }))),
      reason,
      h('p', { class: 'eta-box' }, h('strong', {}, `${t('order.eta')}: `), etaEl)),
    h('div', { class: 'grid order-grid' },
      section(t('order.progress'), h('div', { class: 'card' }, steps.el)),
      section(t('order.map'), map.el)),
    h('div', { class: 'card stack actions' },
      h('div', { class: 'stack cancel-box' }, cancelBtn, cancelHint, cancelAsk),
      confirmBtn,
      shareBox,
      againLink,
      actionError,
      actionOk),
    section(t('order.items'), h('div', { class: 'card stack' },
      h('ul', { class: 'plain stack' }, view.items.map((it) => h('li', { class: 'spread' },
        h('span', {}, `${it.name} × ${it.quantity}`), h('span', { class: 'price' }, won(it.line_total))))),
      h('p', { class: 'spread' }, h('strong', {}, t('order.total')), h('strong', { class: 'price', id: 'order-total' }, won(view.total))),
      paymentEl)),
    section(t('order.refund'), h('div', { class: 'card' }, refundEl)));

  // ---- showing the order as it is ------------------------------------------------------
  function show() {
    const st = view.status;
    badge.textContent = status(st);
    badge.className = `badge${TERMINAL.has(st) ? (st === 'completed' ? ' done' : ' bad') : ''}`;
    const lastReason = [...(view.history ?? [])].reverse().find((e) => e.reason)?.reason;
    reason.textContent = lastReason && (st === 'rejected' || st === 'canceled') ? t('order.reason', { reason: lastReason }) : (view.rider_id ? t('order.rider', { rider: view.rider_id }) : '');
    steps.update(st, view.history);
    if (!EN_ROUTE.has(st)) eta = null;
    if (eta) etaEl.textContent = etaText(eta);
    else if (EN_ROUTE.has(st)) etaEl.textContent = t('order.eta_unknown');
    else if (st === 'delivered' || st === 'completed') etaEl.textContent = t('order.eta_done');
    else if (TERMINAL.has(st)) etaEl.textContent = t('order.eta_ended');
    else etaEl.textContent = t('order.eta_wait');
    const riderAt = eta?.rider_location ?? null;
    map.update({
      store: view.pickup,
      destination: view.delivery,
      rider: EN_ROUTE.has(st) ? riderAt : undefined,
    });
    paymentEl.textContent = view.payment ? t('order.payment_status', { status: payment(view.payment.status) }) : '';
    const r = view.refund;
    if (r?.status === 'succeeded') {
      refundEl.textContent = t('order.refund_succeeded', { amount: won(r.amount) });
      refundEl.className = 'refund ok';
    } else if (r) {
      refundEl.textContent = `${t('order.refund_pending', { amount: won(r.amount) })}${r.attempts ? ` ${t('order.refund_attempts', { n: r.attempts })}` : ''}`;
      refundEl.className = 'refund';
    } else {
      refundEl.textContent = st === 'canceled' || st === 'rejected' ? t('order.refund_waiting') : t('order.refund_none');
      refundEl.className = 'refund muted';
    }
    cancelBtn.hidden = !CANCELABLE.has(st);
    cancelHint.hidden = !CANCELABLE.has(st);
    if (!CANCELABLE.has(st)) cancelAsk.hidden = true;
    confirmBtn.hidden = st !== 'delivered';
    shareBox.hidden = TERMINAL.has(st);
    againLink.hidden = !TERMINAL.has(st) || !view.store_id;
    // A refund owed and not yet confirmed: read the order again until it is.
    const refundOpen = (st === 'canceled' || st === 'rejected') && r?.status !== 'succeeded';
    if (refundOpen && !poll && !closed) poll = setInterval(refresh, 3000);
    if (!refundOpen && poll) { clearInterval(poll); poll = null; }
  }

  async function refresh() {
    try {
      view = { ...view, ...(await get(`/v1/orders/${encodeURIComponent(id)}`)) };
      if (view.eta) eta = view.eta;
      show();
    } catch { /* the next tick or event tries again */ }
  }

  function apply(next) {
    const before = view.status;
    view = { ...view, ...next };
    if (next.eta) eta = next.eta;
    show();
    if (before !== view.status) announce(t('order.changed', { status: status(view.status) }));
  }

  // ---- commands ------------------------------------------------------------------------
  async function command(action, button, done) {
    actionError.textContent = '';
    actionOk.textContent = '';
    button.disabled = true;
    try {
      apply(await post(`/v1/orders/${encodeURIComponent(id)}/${action}`));
      actionOk.textContent = done;
      return true;
    } catch (err) {
      actionError.textContent = err instanceof ApiError ? err.userMessage : String(err);
      return false;
    } finally {
      button.disabled = false;
    }
  }

  cancelBtn.addEventListener('click', () => {
    cancelAsk.hidden = false;
    cancelYes.focus();
  });
  cancelNo.addEventListener('click', () => {
    cancelAsk.hidden = true;
    cancelBtn.focus();
  });
  cancelYes.addEventListener('click', async () => {
    if (await command('cancel', cancelYes, t('order.canceled'))) cancelAsk.hidden = true;
    else cancelYes.focus();
  });
  confirmBtn.addEventListener('click', () => command('confirm', confirmBtn, t('order.confirmed')));
  shareBtn.addEventListener('click', async () => {
    actionError.textContent = '';
    shareBtn.disabled = true;
    try {
      const link = await post(`/v1/orders/${encodeURIComponent(id)}/tracking-link`);
      linkInput.value = new URL(link.path, location.href).href;
      linkBox.hidden = false;
      linkInput.focus();
      linkInput.select();
    } catch (err) {
      actionError.textContent = err instanceof ApiError ? err.userMessage : String(err);
    } finally {
      shareBtn.disabled = false;
    }
  });
  copyBtn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(linkInput.value);
      actionOk.textContent = t('order.copied');
    } catch {
      linkInput.select();
      actionOk.textContent = t('order.copy_failed');
    }
  });

  show();

  // ---- live ----------------------------------------------------------------------------
  stream = follow(`/v1/orders/${encodeURIComponent(id)}/events`, (type, data) => {
    if (type === 'eta') {
      if (data?.eta) {
        eta = data.eta;
        if (data.status && data.status !== view.status) apply({ status: data.status });
        else show();
      }
      return;
    }
    if (data && typeof data === 'object' && data.id === view.id && data.status) apply(data);
    else if (type !== view.status) refresh();
  }, (state) => {
    liveState.dataset.state = state;
    liveState.textContent = t(`live.${state === 'live' ? 'on' : state}`);
    if (state === 'live') refresh();
  });

  return () => {
    closed = true;
    stream?.close();
    if (poll) clearInterval(poll);
  };
}
