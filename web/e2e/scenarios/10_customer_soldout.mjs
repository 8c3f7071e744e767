// A sold-out item cannot be ordered: the store owner marks an item sold out (store API) while
// it sits in a customer's cart; paying is refused (409 item_unavailable) with the reason, and
// the menu then shows the item as sold out with no way to add it. The item is restored after.

import { expect, json, token, unique } from '../lib.mjs';
import { fillCart, toCheckout, payButton, itemOf } from '../customer.mjs';

const STORE = 'st_5';

export async function run(r) {
  const owner = await token('store_owner', 'e2e_owner_soldout', STORE);
  const menu = (await json('GET', `${r.api}/v1/stores/${STORE}/menu`)).data.items;
  const item = menu.find((i) => i.available);
  const other = menu.find((i) => i.available && i.id !== item.id);
  expect(item && other, 'two available items');
  const setAvailable = (available) => json('PUT', `${r.api}/v1/store/menu/${item.id}`, { token: owner, body: { available } });
  const page = await r.party('customer', unique('e2e_soldout'));
  try {
    await fillCart(r, page, STORE, [item.name, other.name]);
    const off = await setAvailable(false);
    expect(off.status === 200 && off.data.available === false, `sold out: ${off.status} ${JSON.stringify(off.data)}`);
    await toCheckout(page, { address: '서울 종로구 종로 1' });
    await payButton(page).click();
    await page.getByRole('alert').filter({ hasText: '품절된 메뉴가 있습니다' }).waitFor();
    expect(!page.url().includes('/customer/orders/'), 'no order');

    // Back to the menu: shown as sold out, not addable; the cart says why it cannot order.
    await page.getByRole('button', { name: '← 메뉴로 돌아가기' }).click();
    const soldOut = page.getByRole('button', { name: `${item.name}: 품절` });
    expect(await soldOut.isDisabled(), 'the sold-out item cannot be added');
    await page.getByText('품절된 메뉴가 장바구니에 있습니다').waitFor();
    expect(await page.getByRole('button', { name: '주문하기', exact: true }).isDisabled(), 'no checkout with it in the cart');
    await page.getByRole('button', { name: `${item.name} 삭제` }).click();
    expect(await page.getByRole('button', { name: '주문하기', exact: true }).isEnabled(), 'checkout once it is out');

    // A fresh load shows it sold out too.
    await page.reload();
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: `${item.name}: 품절` }).isDisabled(), 'sold out after a reload');
    expect(await page.locator('.menu-item.is-sold-out .badge', { hasText: '품절' }).count() >= 1, 'a 품절 badge');
  } finally {
    const back = await setAvailable(true);
    expect(back.status === 200 && back.data.available === true, `restored: ${back.status}`);
  }
}
