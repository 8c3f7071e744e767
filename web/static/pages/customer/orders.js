// Customer: my orders (open ones first, then newest first), a page at a time.

import { h, mount } from '../../lib/dom.js';
import { t, words, won, lang, status, TERMINAL } from '../../lib/i18n.js';
import { get, ApiError } from '../../lib/api.js';

words({
  ko: {
    'orders.title': '주문 내역',
    'orders.none': '아직 주문이 없습니다.',
    'orders.start': '가게 둘러보기',
    'orders.more': '더 보기',
    'orders.items': '{first} 외 {n}개',
    'orders.open': '주문 보기',
  },
  en: {
    'orders.title': 'My orders',
    'orders.none': 'No orders yet.',
    'orders.start': 'Browse stores',
    'orders.more': 'Show more',
    'orders.items': '{first} and {n} more',
    'orders.open': 'See the order',
  },
});

const PAGE = 20;

/** 12월 7일 오후 10:21 / 7 Dec, 22:21 */
function when(at) {
  return new Date(at).toLocaleString(lang() === 'ko' ? 'ko-KR' : 'en-GB', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function summary(order) {
  const [first, ...rest] = order.items ?? [];
  if (!first) return '';
  const name = `${first.name} × ${first.quantity}`;
  return rest.length ? t('orders.items', { first: name, n: rest.length }) : name;
}

function row(order) {
  const st = order.status;
  return h('li', { class: 'card order-row' },
    h('div', { class: 'spread' },
      h('h2', {}, h('a', { href: `#/customer/orders/${encodeURIComponent(order.id)}` }, order.store_name,
        h('span', { class: 'sr-only' }, `: ${t('orders.open')}`))),
      h('span', { class: `badge${TERMINAL.has(st) ? (st === 'completed' ? ' done' : ' bad') : ''}` }, status(st))),
    h('p', { class: 'spread' },
      h('span', {}, summary(order)),
      h('span', { class: 'price' }, won(order.total))),
    h('p', { class: 'muted' }, when(order.created_at), ' · ', h('span', { class: 'order-id' }, order.id.slice(0, 12))));
}

export async function render(main) {
  const list = h('ul', { class: 'plain', id: 'orders' });
  const error = h('p', { class: 'error', role: 'alert' });
  const more = h('button', { type: 'button', hidden: true }, t('orders.more'));
  let cursor = null;
  mount(main, h('h1', {}, t('orders.title')), list, error, more);

  async function page() {
    error.textContent = '';
    more.disabled = true;
    try {
      const { orders, next_cursor: next } = await get(`/v1/orders?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (!cursor && !orders.length) {
        mount(list, h('li', { class: 'card' }, h('p', {}, t('orders.none')), h('a', { href: '#/customer' }, t('orders.start'))));
      } else {
        list.append(...orders.map(row));
      }
      cursor = next ?? null;
      more.hidden = !cursor;
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.userMessage : String(err);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', page);
  await page();
}
