// Menu management: the store owner marks an item sold out (customers cannot order it) and back
// on sale, and changes a price (a bad price is refused on the page; the new one is what
// customers see and pay). The item ends as it started.

import { expect, json, unique } from '../lib.mjs';

const STORE = 'st_6'; // 익선동 분식
const ITEM = '쫄면';

export async function run(r) {
  const menuNow = async () => (await json('GET', `${r.api}/v1/stores/${STORE}/menu`)).data.items.find((it) => it.name === ITEM);
  const before = await menuNow();
  expect(before && before.available, `${ITEM} is on the menu and on sale`);

  const owner = await r.party('store_owner', unique('owner'), STORE);
  try {
    await steps(r, owner, before, menuNow);
  } finally {
    // As it was, whatever happened.
    await json('PUT', `${r.api}/v1/store/menu/${before.id}`, { token: owner.context().baedalToken, body: { available: true, price: before.price } });
  }
}

async function steps(r, owner, before, menuNow) {
  await r.open(owner, '/store/menu');
  await owner.getByRole('heading', { name: '메뉴 관리' }).waitFor();
  const row = owner.locator(`li.menu-edit[data-item-id="${before.id}"]`);
  await row.getByRole('heading', { name: ITEM }).waitFor();
  await r.page(owner, 'store-menu');

  // Sold out, and a customer cannot order it.
  await row.getByRole('button', { name: '품절로 표시' }).click();
  await row.getByText(`${ITEM}: 품절로 표시했습니다.`).waitFor();
  await row.getByText('품절', { exact: true }).waitFor();
  expect((await menuNow()).available === false, 'the customers\' menu says sold out');
  // The customer's menu (its own profile) shows it sold out, and the API refuses it.
  const shopper = await r.party('customer', unique('cust'));
  await r.open(shopper, `/customer/stores/${STORE}`);
  expect(await shopper.getByRole('button', { name: `${ITEM}: 품절` }).isDisabled(), 'sold out on the customer\'s menu');
  const customer = shopper.context().baedalToken;
  const refused = await json('POST', `${r.api}/v1/orders`, {
    token: customer,
    headers: { 'idempotency-key': unique('key') },
    body: {
      store_id: STORE, items: [{ menu_item_id: before.id, quantity: 1 }],
      delivery: { address: '서울 종로구 수표로28길 20', region: 'jongno', lat: 37.5742, lon: 126.9899 },
      payment: { card_token: 'tok_ok' },
    },
  });
  expect(refused.status === 409 && refused.data.error.code === 'item_unavailable', `a sold-out item cannot be ordered: ${refused.status}`);

  await row.getByRole('button', { name: '판매 재개' }).click();
  await row.getByText(`${ITEM}: 다시 판매합니다.`).waitFor();
  await row.getByText('판매 중', { exact: true }).waitFor();
  expect((await menuNow()).available === true, 'back on sale');

  // A price the page refuses, then a good one.
  const price = row.getByLabel('가격 (원)');
  for (const bad of ['abc', '0', '10000001', '12.5']) {
    await price.fill(bad);
    await row.getByRole('button', { name: '가격 저장' }).click();
    await row.getByRole('alert').getByText('가격은 1원에서 10,000,000원 사이의 정수로 입력하세요.').waitFor();
    expect((await price.getAttribute('aria-invalid')) === 'true', `"${bad}" is marked invalid`);
  }
  const next = before.price + 500;
  await price.fill(next.toLocaleString('ko-KR'));
  await row.getByRole('button', { name: '가격 저장' }).click();
  await row.getByText(`${ITEM}: 가격을 ${next.toLocaleString('ko-KR')}원(으)로 바꿨습니다.`).waitFor();
  expect(!(await row.getByRole('alert').textContent()), 'no error left once saved');
  expect((await menuNow()).price === next, 'the customers\' menu has the new price');
  await shopper.reload(); // the same page, loaded again: back on sale, at the new price
  await shopper.getByRole('button', { name: `${ITEM} 담기` }).waitFor();
  await shopper.locator('li.menu-item', { hasText: ITEM }).getByText(`${next.toLocaleString('ko-KR')}원`).waitFor();

  // As it was.
  await price.fill(String(before.price));
  await row.getByRole('button', { name: '가격 저장' }).click();
  await row.getByText(`${ITEM}: 가격을 ${before.price.toLocaleString('ko-KR')}원(으)로 바꿨습니다.`).waitFor();
  expect((await menuNow()).price === before.price, 'the price is back');
}
