// Customer: the stores of a district (구), nearest district first once the customer picks one.

import { h, mount } from '../../lib/dom.js';
import { t, words, region, REGIONS } from '../../lib/i18n.js';
import { get, ApiError } from '../../lib/api.js';

words({
  ko: { 'stores.title': '어디로 배달할까요?', 'stores.district': '지역', 'stores.none': '이 지역에는 아직 가게가 없습니다.', 'stores.menu': '메뉴 보기', 'stores.cart': '장바구니 {n}개', 'stores.pending': '완료되지 않은 주문 시도' },
  en: { 'stores.title': 'Where should we deliver?', 'stores.district': 'District', 'stores.none': 'No stores in this district yet.', 'stores.menu': 'See the menu', 'stores.cart': '{n} in cart', 'stores.pending': 'An order attempt is waiting' },
});

const KEY = 'baedal.region';

/** What this tab's cart (pages/customer/store.js keeps it) holds for a store. */
function cartNote(id) {
  let n = 0;
  try { n = Object.values(JSON.parse(sessionStorage.getItem(`baedal.cart.${id}`)) ?? {}).reduce((a, b) => a + b, 0); } catch { /* none */ }
  const waiting = sessionStorage.getItem(`baedal.pending.${id}`);
  if (waiting) return h('p', { class: 'notice' }, t('stores.pending'));
  return n ? h('p', {}, h('span', { class: 'badge' }, t('stores.cart', { n }))) : null;
}

export async function render(main) {
  const chosen = REGIONS.includes(localStorage.getItem(KEY)) ? localStorage.getItem(KEY) : REGIONS[0];
  const list = h('div', { class: 'grid', 'aria-live': 'polite' });
  const tabs = h('div', { class: 'row', role: 'group', 'aria-label': t('stores.district') },
    REGIONS.map((r) => h('button', {
      type: 'button',
      class: r === chosen ? 'primary' : '',
      'aria-pressed': String(r === chosen),
      onclick: () => { localStorage.setItem(KEY, r); render(main); },
    }, region(r))));
  mount(main, h('h1', {}, t('stores.title')), tabs, list);
  try {
    const { stores } = await get(`/v1/stores?region=${encodeURIComponent(chosen)}`);
    mount(list, stores.length ? stores.map((st) => h('article', { class: 'card' },
      h('h2', {}, st.name),
      h('p', { class: 'muted' }, st.address),
      cartNote(st.id),
      h('a', { href: `#/customer/stores/${encodeURIComponent(st.id)}` }, t('stores.menu'), h('span', { class: 'sr-only' }, `: ${st.name}`)),
    )) : h('p', {}, t('stores.none')));
  } catch (err) {
    mount(list, h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? err.userMessage : String(err)));
  }
}
