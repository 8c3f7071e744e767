// A declined card: the customer fills a cart (the menu page), checks out with the test card
// that is declined, is told so next to the button, and no order exists afterwards.

import { expect, unique } from '../lib.mjs';
import { fillCart, toCheckout, payButton } from '../customer.mjs';

export async function run(r) {
  const page = await r.party('customer', unique('e2e_declined'));
  await r.open(page, '/customer');
  await page.getByRole('link', { name: /메뉴 보기.*강남역 떡볶이/ }).click();
  await page.getByRole('heading', { name: '강남역 떡볶이', level: 1 }).waitFor();
  await fillCart(r, page, 'st_1', ['국물떡볶이', '국물떡볶이', '김밥']);
  expect((await page.getByLabel('국물떡볶이 수량').textContent()) === '2', 'two 국물떡볶이 in the cart');
  expect(await page.getByText('13,500원').first().isVisible(), 'the cart estimates 5,000 × 2 + 3,500');
  await r.page(page, 'customer-menu');

  await toCheckout(page, { card: 'tok_declined' });
  await r.page(page, 'customer-checkout');
  await payButton(page).click();
  const alert = page.getByRole('alert').filter({ hasText: '카드가 거절되었습니다' });
  await alert.waitFor();
  expect(page.url().includes('/customer/stores/st_1'), 'still on the checkout');

  // Nothing was placed: the list is empty, and the cart is still there to try another card.
  await r.open(page, '/customer/orders');
  await page.getByText('아직 주문이 없습니다.').waitFor();
  await r.open(page, '/customer/stores/st_1');
  await page.getByRole('heading', { name: '주문하기', level: 1 }).waitFor();
}
