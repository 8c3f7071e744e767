// What the customer scenarios share: ordering through the pages (menu → cart → checkout →
// pay), and the other parties' steps through the JSON API (a store owner, a rider), with the
// ids and places the demo catalog has.

import { expect, json, token } from './lib.mjs';

/** A store of the demo catalog by id: `{id, name, region, lat, lon}`. */
export async function storeOf(r, id) {
  const { data } = await json('GET', `${r.api}/v1/stores?limit=100`);
  const found = data.stores.find((s) => s.id === id);
  expect(found, `store ${id} in the catalog`);
  return found;
}

/** The menu item of `storeId` called `name`. */
export async function itemOf(r, storeId, name) {
  const { data } = await json('GET', `${r.api}/v1/stores/${storeId}/menu`);
  const found = data.items.find((i) => i.name === name);
  expect(found, `menu item ${name} at ${storeId}`);
  return found;
}

/** Open `storeId`'s menu and add each of `names` (one each) to the cart. */
export async function fillCart(r, page, storeId, names) {
  await r.open(page, `/customer/stores/${storeId}`);
  for (const name of names) await page.getByRole('button', { name: `${name} 담기` }).click();
}

/** From the menu with a filled cart to the checkout, with `card` picked and an address given. */
export async function toCheckout(page, { card = 'tok_ok', address = '서울 강남구 테헤란로 1, 101동 1001호' } = {}) {
  await page.getByRole('button', { name: '주문하기', exact: true }).click();
  await page.getByRole('heading', { name: '주문하기', level: 1 }).waitFor();
  await page.getByLabel('상세 주소').fill(address);
  await page.getByLabel(card === 'tok_ok' ? '승인되는 카드 (tok_ok)' : '거절되는 카드 (tok_declined)').check();
}

export const payButton = (page) => page.getByRole('button', { name: /결제하고 주문하기$/ });

/** Pay, and wait for the order page the checkout goes to: the order id. */
export async function payAndLand(page) {
  await payButton(page).click();
  await page.waitForURL(/#\/customer\/orders\/ord_/);
  return decodeURIComponent(page.url().split('/').pop());
}

/** Order through the pages: the order id. */
export async function orderThroughPages(r, page, storeId, names, opts) {
  await fillCart(r, page, storeId, names);
  await toCheckout(page, opts);
  return payAndLand(page);
}

/** The store owner's and the rider's steps, through the API. */
export async function storeStep(r, storeId, orderId, action) {
  const owner = await token('store_owner', `owner_${storeId}`, storeId);
  const res = await json('POST', `${r.api}/v1/store/orders/${orderId}/${action}`, { token: owner, body: action === 'reject' ? { reason: 'e2e' } : undefined });
  expect(res.status === 200, `store ${action}: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data;
}

export async function riderAt(r, riderToken, lat, lon) {
  const res = await json('POST', `${r.api}/v1/rider/location`, { token: riderToken, body: { lat, lon } });
  expect(res.status === 200, `rider location: ${res.status} ${JSON.stringify(res.data)}`);
}

export async function riderStep(r, riderToken, orderId, action) {
  const res = await json('POST', `${r.api}/v1/rider/deliveries/${orderId}/${action}`, { token: riderToken });
  expect(res.status === 200, `rider ${action}: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data;
}

/** The order as its customer reads it (API). */
export async function orderView(r, customerToken, orderId) {
  const res = await json('GET', `${r.api}/v1/orders/${orderId}`, { token: customerToken });
  expect(res.status === 200, `order ${orderId}: ${res.status}`);
  return res.data;
}

export { until } from './lib.mjs';
