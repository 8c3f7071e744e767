// Store owner: the store's menu (GET /v1/stores/{store_id}/menu, the customers' own list) and
// its changes (PUT /v1/store/menu/{item_id} `{available}` or `{price}`): mark an item sold out
// and back, reprice it. Orders already placed keep the price they were placed at.

import { h, mount, field } from '../../lib/dom.js';
import { t, words, won } from '../../lib/i18n.js';
import { get, put, ApiError } from '../../lib/api.js';
import { current } from '../../lib/session.js';

words({
  ko: {
    'menu.title': '메뉴 관리',
    'menu.hint': '품절로 표시한 메뉴는 고객이 주문할 수 없습니다. 가격을 바꾸면 새 주문부터 적용됩니다.',
    'menu.available': '판매 중',
    'menu.sold_out': '품절',
    'menu.mark_sold_out': '품절로 표시',
    'menu.mark_available': '판매 재개',
    'menu.price': '가격 (원)',
    'menu.price_hint': '1원 ~ 10,000,000원, 원 단위',
    'menu.save_price': '가격 저장',
    'menu.bad_price': '가격은 1원에서 10,000,000원 사이의 정수로 입력하세요.',
    'menu.same_price': '지금 가격과 같습니다.',
    'menu.saved_price': '{name}: 가격을 {price}(으)로 바꿨습니다.',
    'menu.saved_sold_out': '{name}: 품절로 표시했습니다.',
    'menu.saved_available': '{name}: 다시 판매합니다.',
    'menu.none': '메뉴가 없습니다.',
    'menu.no_store': '이 계정에는 가게가 연결되어 있지 않습니다.',
  },
  en: {
    'menu.title': 'Menu',
    'menu.hint': 'Customers cannot order a sold-out item. A new price applies to new orders.',
    'menu.available': 'On sale',
    'menu.sold_out': 'Sold out',
    'menu.mark_sold_out': 'Mark sold out',
    'menu.mark_available': 'Back on sale',
    'menu.price': 'Price (won)',
    'menu.price_hint': '1 to 10,000,000 won, whole won',
    'menu.save_price': 'Save price',
    'menu.bad_price': 'Enter a whole number of won from 1 to 10,000,000.',
    'menu.same_price': 'That is the current price.',
    'menu.saved_price': '{name}: the price is now {price}.',
    'menu.saved_sold_out': '{name}: marked sold out.',
    'menu.saved_available': '{name}: back on sale.',
    'menu.none': 'The menu is empty.',
    'menu.no_store': 'This account has no store.',
  },
});

export const MAX_PRICE = 10_000_000;

/** The price typed, as whole won, or null when it is not one (commas and spaces allowed). */
export function parsePrice(text) {
  const clean = String(text).replace(/[,\s원₩]/g, '');
  if (!/^\d+$/.test(clean)) return null;
  const n = Number(clean);
  return n >= 1 && n <= MAX_PRICE ? n : null;
}

export async function render(main) {
  const who = current();
  const list = h('ul', { class: 'plain grid menu-edit-list' });
  const error = h('p', { class: 'error', role: 'alert' });
  mount(main, h('h1', {}, t('menu.title')), h('p', { class: 'muted' }, t('menu.hint')), error, list);
  if (!who?.store_id) {
    error.textContent = t('menu.no_store');
    return;
  }
  try {
    const { items } = await get(`/v1/stores/${encodeURIComponent(who.store_id)}/menu`);
    mount(list, items.length ? items.map(row) : h('li', {}, t('menu.none')));
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.userMessage : String(err);
  }
}

function row(initial) {
  let item = initial;
  const li = h('li', { class: 'card stack menu-edit', 'data-item-id': item.id });
  const headingId = `item-${item.id}`;
  const badge = h('span', { class: 'badge' });
  const shown = h('span', { class: 'price' });
  const toggle = h('button', { type: 'button' });
  const price = h('input', {
    name: 'price', inputmode: 'numeric', autocomplete: 'off', value: String(item.price),
    'aria-describedby': null,
  });
  const save = h('button', { type: 'submit', class: 'primary' }, t('menu.save_price'));
  const error = h('p', { class: 'error', role: 'alert' });
  const ok = h('p', { class: 'ok', role: 'status' });
  const priceField = field(t('menu.price'), price, t('menu.price_hint'));
  const form = h('form', { class: 'row price-form', novalidate: true }, priceField, save);
  form.setAttribute('aria-labelledby', headingId);

  const show = () => {
    badge.textContent = item.available ? t('menu.available') : t('menu.sold_out');
    badge.className = item.available ? 'badge' : 'badge bad';
    shown.textContent = won(item.price);
    shown.classList.toggle('sold-out', !item.available);
    toggle.textContent = item.available ? t('menu.mark_sold_out') : t('menu.mark_available');
    toggle.className = item.available ? 'danger' : 'primary';
    toggle.append(h('span', { class: 'sr-only' }, ` ${item.name}`));
  };

  const change = async (body, said, button) => {
    error.textContent = '';
    ok.textContent = '';
    button.disabled = true;
    try {
      item = await put(`/v1/store/menu/${encodeURIComponent(item.id)}`, body);
      show();
      ok.textContent = said(item); // a status region: read out once
      price.value = String(item.price);
      price.removeAttribute('aria-invalid');
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.userMessage : String(err);
    } finally {
      button.disabled = false;
    }
  };

  toggle.addEventListener('click', () => {
    const available = !item.available;
    change({ available },
      (it) => t(available ? 'menu.saved_available' : 'menu.saved_sold_out', { name: it.name }), toggle);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = parsePrice(price.value);
    if (n == null) {
      ok.textContent = '';
      error.textContent = t('menu.bad_price');
      price.setAttribute('aria-invalid', 'true');
      price.focus();
      return;
    }
    if (n === item.price) {
      error.textContent = '';
      ok.textContent = t('menu.same_price');
      return;
    }
    change({ price: n }, (it) => t('menu.saved_price', { name: it.name, price: won(it.price) }), save);
  });

  show();
  li.append(
    h('div', { class: 'spread' }, h('h2', { id: headingId }, item.name), badge),
    h('div', { class: 'spread' }, shown, toggle),
    form,
    error,
    ok,
  );
  return li;
}
