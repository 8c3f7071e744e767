// Customer: a store's menu, the cart and the checkout, on one page (two steps: menu, then
// checkout). Sold-out items are shown as such and cannot be added. The cart is kept in
// sessionStorage per store. Placing an order sends one Idempotency-Key per order the customer
// means to place: the key and the exact body are kept in sessionStorage until the order
// exists, so the retry after "payment busy" (503) — from the button, or after a reload —
// is the same request with the same key, and the card is charged at most once.

import { h, mount, field, section, announce } from '../../lib/dom.js';
import { t, words, won, region, REGIONS } from '../../lib/i18n.js';
import { get, post, newKey, ApiError } from '../../lib/api.js';
import { distanceKm } from '../../lib/map.js';
import { go } from '../../app.js';

words({
  ko: {
    'menu.back': '← 가게 목록',
    'menu.title': '메뉴',
    'menu.sold_out': '품절',
    'menu.add': '담기',
    'menu.add_label': '{name} 담기',
    'menu.in_cart': '장바구니에 {n}개',
    'menu.empty': '이 가게에는 아직 메뉴가 없습니다.',
    'menu.not_found': '가게를 찾을 수 없습니다.',
    'cart.title': '장바구니',
    'cart.empty': '장바구니가 비어 있습니다. 메뉴에서 담아 주세요.',
    'cart.less': '{name} 하나 빼기',
    'cart.more': '{name} 하나 더',
    'cart.remove': '{name} 삭제',
    'cart.remove_short': '삭제',
    'cart.qty': '{name} 수량',
    'cart.estimate': '예상 금액',
    'cart.estimate_hint': '최종 금액은 주문할 때 가게의 현재 가격으로 계산됩니다.',
    'cart.sold_out_inside': '품절된 메뉴가 장바구니에 있습니다. 빼고 주문해 주세요.',
    'cart.checkout': '주문하기',
    'cart.added': '장바구니에 {name} 담음 (모두 {n}개)',
    'checkout.title': '주문하기',
    'checkout.back': '← 메뉴로 돌아가기',
    'checkout.items': '주문 내용',
    'checkout.delivery': '배달 주소',
    'checkout.address': '상세 주소',
    'checkout.address_hint': '예: 서울 강남구 테헤란로 1, 101동 1001호',
    'checkout.district': '지역(구)',
    'checkout.point_near': '배달 위치: {district} 중심(가게에서 약 {km} km)',
    'checkout.point_here': '배달 위치: 현재 위치(가게에서 약 {km} km)',
    'checkout.far': '가게에서 {km} km 떨어져 있어 배달 가능 지역 밖일 수 있습니다.',
    'checkout.use_location': '현재 위치 사용',
    'checkout.locating': '위치를 확인하는 중…',
    'checkout.no_location': '현재 위치를 알 수 없습니다. 지역을 선택해 주세요.',
    'checkout.card': '결제 카드 (테스트 카드)',
    'checkout.card_ok': '승인되는 카드 (tok_ok)',
    'checkout.card_declined': '거절되는 카드 (tok_declined)',
    'checkout.pay': '{amount} 결제하고 주문하기',
    'checkout.placing': '주문하는 중…',
    'checkout.declined': '카드가 거절되었습니다. 주문은 만들어지지 않았습니다. 다른 카드를 선택해 주세요.',
    'checkout.payment_busy': '결제가 잠시 어렵습니다 — {secs}초 후 다시 시도하세요',
    'checkout.payment_busy_now': '결제가 잠시 어렵습니다 — 지금 다시 시도해 보세요',
    'checkout.retry': '같은 주문으로 다시 시도',
    'checkout.retry_hint': '같은 주문 번호로 다시 보내므로 결제는 한 번만 됩니다.',
    'checkout.pending': '완료되지 않은 주문 시도가 있습니다. 같은 주문으로 다시 시도하거나 취소하세요.',
    'checkout.discard': '이 시도 버리고 새로 주문',
    'checkout.outside': '이 주소는 가게의 배달 가능 지역 밖입니다. 더 가까운 곳을 선택해 주세요.',
    'checkout.unavailable': '품절된 메뉴가 있습니다: 메뉴를 다시 확인해 주세요.',
    'checkout.start_over': '{message} 새로 주문해 주세요.',
    'checkout.placed': '주문이 접수되었습니다.',
  },
  en: {
    'menu.back': '← Stores',
    'menu.title': 'Menu',
    'menu.sold_out': 'Sold out',
    'menu.add': 'Add',
    'menu.add_label': 'Add {name}',
    'menu.in_cart': '{n} in cart',
    'menu.empty': 'This store has no menu yet.',
    'menu.not_found': 'Store not found.',
    'cart.title': 'Cart',
    'cart.empty': 'Your cart is empty. Add something from the menu.',
    'cart.less': 'One less {name}',
    'cart.more': 'One more {name}',
    'cart.remove': 'Remove {name}',
    'cart.remove_short': 'Remove',
    'cart.qty': 'Quantity of {name}',
    'cart.estimate': 'Estimated total',
    'cart.estimate_hint': 'The final total is priced by the store when you order.',
    'cart.sold_out_inside': 'Your cart has a sold-out item. Remove it to order.',
    'cart.checkout': 'Check out',
    'cart.added': 'Added {name}. {n} in cart',
    'checkout.title': 'Checkout',
    'checkout.back': '← Back to the menu',
    'checkout.items': 'Your order',
    'checkout.delivery': 'Delivery address',
    'checkout.address': 'Address',
    'checkout.address_hint': 'e.g. 1 Teheran-ro, Gangnam-gu, apt 101-1001',
    'checkout.district': 'District',
    'checkout.point_near': 'Delivery point: {district} centre ({km} km from the store)',
    'checkout.point_here': 'Delivery point: your location ({km} km from the store)',
    'checkout.far': '{km} km from the store: probably outside its delivery area.',
    'checkout.use_location': 'Use my location',
    'checkout.locating': 'Finding your location…',
    'checkout.no_location': 'Your location is not available. Pick a district.',
    'checkout.card': 'Card (test cards)',
    'checkout.card_ok': 'A card that is approved (tok_ok)',
    'checkout.card_declined': 'A card that is declined (tok_declined)',
    'checkout.pay': 'Pay {amount} and order',
    'checkout.placing': 'Placing your order…',
    'checkout.declined': 'Your card was declined. No order was placed. Choose another card.',
    'checkout.payment_busy': 'Payment is busy — try again in {secs} s',
    'checkout.payment_busy_now': 'Payment is busy — try again now',
    'checkout.retry': 'Try the same order again',
    'checkout.retry_hint': 'It is sent with the same order key, so you are charged once.',
    'checkout.pending': 'An order attempt did not finish. Try the same order again, or drop it.',
    'checkout.discard': 'Drop it and start over',
    'checkout.outside': 'That address is outside the store’s delivery area. Choose a closer one.',
    'checkout.unavailable': 'Something in your cart is sold out: check the menu again.',
    'checkout.start_over': '{message} Please place the order again.',
    'checkout.placed': 'Your order was placed.',
  },
});

/** District centres (구청 부근), for a delivery point when the store is elsewhere. */
const CENTRES = {
  gangnam: { lat: 37.5172, lon: 127.0473 },
  mapo: { lat: 37.5663, lon: 126.9019 },
  jongno: { lat: 37.5735, lon: 126.9790 },
  songpa: { lat: 37.5145, lon: 127.1059 },
};
/** The delivery area's usual radius (the store's own may differ: the server decides). */
const USUAL_RADIUS_KM = 3;
/** Errors after which the same request with the same key may succeed. */
const RETRYABLE = new Set(['payment_unavailable', 'temporarily_unavailable', 'request_timeout', 'engine_busy', 'rate_limited', 'network']);

const store$ = (kind, id) => `baedal.${kind}.${id}`;
function load(kind, id, fallback) {
  try { return JSON.parse(sessionStorage.getItem(store$(kind, id))) ?? fallback; } catch { return fallback; }
}
function save(kind, id, value) {
  if (value == null) sessionStorage.removeItem(store$(kind, id));
  else sessionStorage.setItem(store$(kind, id), JSON.stringify(value));
}

async function findStore(id) {
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const { stores, next_cursor: next } = await get(`/v1/stores?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const found = stores.find((st) => st.id === id);
    if (found || !next) return found ?? null;
    cursor = next;
  }
  return null;
}

/** Keep keyboard focus on "the same" control across a re-render (by its data-key). */
function keepFocus(redraw) {
  const key = document.activeElement?.dataset?.key;
  redraw();
  if (key) document.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

export async function render(main, { id }) {
  let store;
  let menu;
  try {
    [store, menu] = await Promise.all([findStore(id), get(`/v1/stores/${encodeURIComponent(id)}/menu`)]);
  } catch (err) {
    mount(main,
      h('p', {}, h('a', { href: '#/customer' }, t('menu.back'))),
      h('p', { class: 'error', role: 'alert' }, err instanceof ApiError && err.code === 'store_not_found' ? t('menu.not_found') : err.userMessage ?? String(err)));
    return;
  }
  store ??= { id, name: id, address: '', region: REGIONS[0], lat: null, lon: null };
  const items = new Map(menu.items.map((it) => [it.id, it]));
  /** itemId → quantity, in the order added. */
  const cart = new Map(Object.entries(load('cart', id, {})).filter(([itemId, n]) => items.has(itemId) && n > 0));
  const saveCart = () => save('cart', id, cart.size ? Object.fromEntries(cart) : null);
  let pending = load('pending', id, null);
  let mode = pending || load('mode', id, 'menu') === 'checkout' ? 'checkout' : 'menu';
  if (!cart.size && !pending) mode = 'menu';

  const count = () => [...cart.values()].reduce((a, b) => a + b, 0);
  const estimate = () => [...cart].reduce((sum, [itemId, n]) => sum + items.get(itemId).price * n, 0);
  const soldOutInCart = () => [...cart.keys()].some((itemId) => !items.get(itemId).available);

  function setQty(itemId, n) {
    if (n <= 0) cart.delete(itemId);
    else cart.set(itemId, Math.min(n, 99));
    saveCart();
    keepFocus(draw);
    // The line left the cart with the focused button: back to the item's add button.
    if (n <= 0 && !main.contains(document.activeElement)) {
      main.querySelector(`[data-key="${CSS.escape(`add-${itemId}`)}"]`)?.focus();
    }
  }

  // ---- the menu step -------------------------------------------------------------------
  function menuRow(it) {
    const n = cart.get(it.id) ?? 0;
    return h('li', { class: `card spread menu-item${it.available ? '' : ' is-sold-out'}` },
      h('div', {},
        h('h3', { class: it.available ? null : 'sold-out' }, it.name),
        h('span', { class: 'price' }, won(it.price)),
        ' ',
        it.available ? null : h('span', { class: 'badge bad' }, t('menu.sold_out')),
        h('span', { class: 'muted in-cart' }, n && it.available ? ` · ${t('menu.in_cart', { n })}` : '')),
      h('button', {
        type: 'button',
        'data-key': `add-${it.id}`,
        disabled: !it.available,
        'aria-label': it.available ? t('menu.add_label', { name: it.name }) : `${it.name}: ${t('menu.sold_out')}`,
        onclick: () => {
          setQty(it.id, (cart.get(it.id) ?? 0) + 1);
          announce(t('cart.added', { name: it.name, n: count() }));
        },
      }, it.available ? t('menu.add') : t('menu.sold_out')));
  }

  function cartLine(itemId, n, editable) {
    const it = items.get(itemId);
    const name = h('span', {}, h('span', { class: it.available ? null : 'sold-out' }, it.name), it.available ? null : [' ', h('span', { class: 'badge bad' }, t('menu.sold_out'))], editable ? null : ` × ${n}`);
    const top = h('div', { class: 'spread' }, name, h('span', { class: 'price' }, won(it.price * n)));
    if (!editable) return h('li', { class: 'cart-line' }, top);
    return h('li', { class: 'cart-line' }, top,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'qty', 'data-key': `less-${itemId}`, 'aria-label': t('cart.less', { name: it.name }), onclick: () => setQty(itemId, n - 1) }, '−'),
        h('output', { class: 'qty-n', 'aria-label': t('cart.qty', { name: it.name }) }, String(n)),
        h('button', { type: 'button', class: 'qty', 'data-key': `more-${itemId}`, disabled: !it.available || n >= 99, 'aria-label': t('cart.more', { name: it.name }), onclick: () => setQty(itemId, n + 1) }, '+'),
        h('button', { type: 'button', class: 'link', 'data-key': `rm-${itemId}`, 'aria-label': t('cart.remove', { name: it.name }), onclick: () => setQty(itemId, 0) }, t('cart.remove_short'))));
  }

  function cartBox(editable) {
    if (!cart.size) return h('p', { class: 'muted' }, t('cart.empty'));
    return h('div', { class: 'stack' },
      h('ul', { class: 'plain stack' }, [...cart].map(([itemId, n]) => cartLine(itemId, n, editable))),
      h('p', { class: 'spread' }, h('strong', {}, t('cart.estimate')), h('strong', { class: 'price' }, won(estimate()))),
      h('p', { class: 'hint' }, t('cart.estimate_hint')));
  }

  function menuStep() {
    const blocked = soldOutInCart();
    return [
      h('p', {}, h('a', { href: '#/customer' }, t('menu.back'))),
      h('h1', {}, store.name),
      store.address ? h('p', { class: 'muted' }, store.address) : null,
      section(t('menu.title'),
        menu.items.length ? h('ul', { class: 'plain' }, menu.items.map(menuRow)) : h('p', {}, t('menu.empty'))),
      section(t('cart.title'),
        h('div', { class: 'card stack' },
          cartBox(true),
          blocked ? h('p', { class: 'notice', role: 'alert' }, t('cart.sold_out_inside')) : null,
          h('button', {
            type: 'button', class: 'primary', 'data-key': 'checkout',
            disabled: !cart.size || blocked,
            onclick: () => { mode = 'checkout'; save('mode', id, mode); draw(); main.querySelector('h1')?.focus(); },
          }, t('cart.checkout')))),
    ];
  }

  // ---- the checkout step ---------------------------------------------------------------
  const form = load('form', id, { address: '', region: REGIONS.includes(store.region) ? store.region : REGIONS[0], card: 'tok_ok', here: null });
  const saveForm = () => save('form', id, form);
  const storeAt = store.lat != null ? { lat: store.lat, lon: store.lon } : null;

  /** The delivery point: the browser's location if the customer asked, else the district's. */
  function point() {
    if (form.here) return { lat: form.here.lat, lon: form.here.lon, here: true };
    if (storeAt && form.region === store.region) {
      // The district's centre nearest the store: a short walk (≈400 m) from it.
      return { lat: +(storeAt.lat + 0.003).toFixed(6), lon: +(storeAt.lon + 0.0025).toFixed(6), here: false };
    }
    return { ...CENTRES[form.region], here: false };
  }

  function body() {
    const p = point();
    return {
      store_id: id,
      items: [...cart].map(([itemId, n]) => ({ menu_item_id: itemId, quantity: n })),
      delivery: { address: form.address.trim(), region: form.region, lat: p.lat, lon: p.lon },
      payment: { card_token: form.card },
    };
  }

  let busy = false;
  let countdown = null;
  const errorEl = h('p', { class: 'error', role: 'alert', id: 'checkout-error' });
  const retryBox = h('div', { class: 'notice stack retry-box', hidden: true });

  function clearCountdown() {
    if (countdown) clearInterval(countdown);
    countdown = null;
  }

  function showRetry(message) {
    clearCountdown();
    const text = h('p', { role: 'alert', class: 'retry-message' }, message);
    mount(retryBox,
      text,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', 'data-key': 'retry', onclick: () => pending && place(pending.body, pending.key) }, t('checkout.retry')),
        h('button', { type: 'button', class: 'link', onclick: discard }, t('checkout.discard'))),
      h('p', { class: 'hint' }, t('checkout.retry_hint')));
    retryBox.hidden = false;
    return text;
  }

  function busyMessage(err) {
    if (err.code !== 'payment_unavailable') return showRetry(err.userMessage);
    let secs = err.retryAfter ?? 5;
    const text = showRetry(t('checkout.payment_busy', { secs }));
    countdown = setInterval(() => {
      secs -= 1;
      if (secs <= 0) {
        clearCountdown();
        // The alert said its piece; the countdown's change is not announced again each second.
        text.removeAttribute('role');
        text.textContent = t('checkout.payment_busy_now');
      } else {
        text.removeAttribute('role');
        text.textContent = t('checkout.payment_busy', { secs });
      }
    }, 1000);
  }

  function discard() {
    pending = null;
    save('pending', id, null);
    clearCountdown();
    retryBox.hidden = true;
    errorEl.textContent = '';
    keepFocus(draw);
  }

  async function place(b, key) {
    if (busy) return;
    busy = true;
    const focusKey = document.activeElement?.dataset?.key;
    pending = { key, body: b };
    save('pending', id, pending);
    errorEl.textContent = '';
    clearCountdown();
    retryBox.hidden = true;
    const submit = main.querySelector('button[type="submit"]');
    const label = submit?.textContent;
    if (submit) { submit.disabled = true; submit.textContent = t('checkout.placing'); }
    announce(t('checkout.placing'));
    try {
      const order = await post('/v1/orders', b, { 'idempotency-key': key });
      save('pending', id, null);
      save('cart', id, null);
      save('mode', id, null);
      sessionStorage.setItem('baedal.placed', order.id);
      announce(t('checkout.placed'));
      go(`/customer/orders/${encodeURIComponent(order.id)}`);
      return;
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e), null);
      if (RETRYABLE.has(err.code) || err.status === 0) {
        busyMessage(err);
      } else {
        // No order exists and this key's request cannot become one: the next try is a new order.
        pending = null;
        save('pending', id, null);
        if (err.code === 'payment_declined') errorEl.textContent = t('checkout.declined');
        else if (err.code === 'outside_delivery_area') errorEl.textContent = t('checkout.outside');
        else if (err.code === 'item_unavailable') {
          errorEl.textContent = `${err.message}. ${t('checkout.unavailable')}`;
          try {
            const fresh = await get(`/v1/stores/${encodeURIComponent(id)}/menu`);
            menu = fresh;
            for (const it of fresh.items) items.set(it.id, it);
          } catch { /* the message says enough */ }
        } else if (['idempotency_key_expired', 'idempotency_key_reused', 'idempotency_key_too_old'].includes(err.code)) {
          errorEl.textContent = t('checkout.start_over', { message: err.message });
        } else errorEl.textContent = err.userMessage;
      }
    } finally {
      busy = false;
      if (submit?.isConnected) { submit.disabled = false; submit.textContent = label; }
    }
    draw();
    const again = retryBox.hidden ? 'pay' : 'retry';
    main.querySelector(`[data-key="${focusKey === 'retry' || focusKey === 'pay' ? again : focusKey}"]`)?.focus();
  }

  function checkoutStep() {
    const p = point();
    const km = storeAt ? distanceKm(storeAt, p) : null;
    const pointHint = h('small', { class: 'hint', id: 'point-hint' },
      km == null ? '' : t(p.here ? 'checkout.point_here' : 'checkout.point_near', { district: region(form.region), km: km.toFixed(1) }),
      km != null && km > USUAL_RADIUS_KM ? [h('br'), t('checkout.far', { km: km.toFixed(1) })] : null);
    const address = h('input', { name: 'address', required: true, maxlength: 200, autocomplete: 'street-address', value: form.address });
    address.addEventListener('input', () => { form.address = address.value; saveForm(); });
    const district = h('select', { name: 'region', 'aria-describedby': 'point-hint' },
      REGIONS.map((r) => h('option', { value: r, selected: r === form.region }, region(r))));
    district.addEventListener('change', () => { form.region = district.value; form.here = null; saveForm(); keepFocus(draw); });
    const locate = h('button', { type: 'button', class: 'link', 'data-key': 'locate' }, t('checkout.use_location'));
    const locateMsg = h('p', { class: 'error', role: 'alert' });
    locate.addEventListener('click', () => {
      if (!navigator.geolocation) { locateMsg.textContent = t('checkout.no_location'); return; }
      locateMsg.textContent = '';
      pointHint.textContent = t('checkout.locating');
      navigator.geolocation.getCurrentPosition(
        (pos) => { form.here = { lat: +pos.coords.latitude.toFixed(6), lon: +pos.coords.longitude.toFixed(6) }; saveForm(); keepFocus(draw); },
        () => { locateMsg.textContent = t('checkout.no_location'); form.here = null; keepFocus(draw); },
        { timeout: 10_000, maximumAge: 60_000 });
    });
    const cards = h('fieldset', { class: 'card-picker' },
      h('legend', {}, t('checkout.card')),
      ['tok_ok', 'tok_declined'].map((tok) => {
        const radio = h('input', { type: 'radio', name: 'card', value: tok, id: `card-${tok}`, checked: form.card === tok });
        radio.addEventListener('change', () => { form.card = tok; saveForm(); });
        return h('div', { class: 'radio' }, radio, h('label', { for: `card-${tok}` }, t(tok === 'tok_ok' ? 'checkout.card_ok' : 'checkout.card_declined')));
      }));
    const f = h('form', { class: 'card stack', novalidate: false },
      h('h2', {}, t('checkout.delivery')),
      field(t('checkout.address'), address, t('checkout.address_hint')),
      h('div', { class: 'field' },
        h('label', { for: 'district' }, t('checkout.district')),
        Object.assign(district, { id: 'district' }),
        pointHint,
        h('div', {}, locate),
        locateMsg),
      cards,
      h('button', { type: 'submit', class: 'primary', 'data-key': 'pay', disabled: !cart.size || soldOutInCart() }, t('checkout.pay', { amount: won(estimate()) })),
      errorEl,
      retryBox);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!address.value.trim()) { address.focus(); return; }
      const now = body();
      // The same order as the attempt still waiting: the same key (one charge at most).
      const key = pending && JSON.stringify(pending.body) === JSON.stringify(now) ? pending.key : newKey();
      place(now, key);
    });
    if (pending) {
      // A reload (or a change of step) while an attempt waits: offer it again, as it was sent.
      if (retryBox.hidden) showRetry(t('checkout.pending'));
    }
    return [
      h('p', {}, h('button', {
        type: 'button', class: 'link', 'data-key': 'back',
        onclick: () => { mode = 'menu'; save('mode', id, mode); draw(); },
      }, t('checkout.back'))),
      h('h1', { tabindex: '-1' }, t('checkout.title')),
      h('p', { class: 'muted' }, store.name),
      section(t('checkout.items'), h('div', { class: 'card' }, cartBox(false))),
      f,
    ];
  }

  function draw() {
    if (mode === 'checkout' && (cart.size || pending)) mount(main, checkoutStep());
    else {
      mode = 'menu';
      mount(main, menuStep());
    }
  }

  // A pending attempt's cart is the one it sent (the cart may have been emptied meanwhile).
  if (pending && !cart.size) {
    for (const it of pending.body.items) if (items.has(it.menu_item_id)) cart.set(it.menu_item_id, it.quantity);
  }
  if (pending) {
    Object.assign(form, {
      address: pending.body.delivery.address,
      region: pending.body.delivery.region,
      card: pending.body.payment.card_token,
    });
  }
  draw();
  return () => clearCountdown();
}
