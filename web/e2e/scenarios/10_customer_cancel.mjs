// A cancel with its refund: the customer orders, sees the store accept live (no reload), asks
// to cancel, confirms, and watches the refund go from pending to done on the order page; the
// order list shows it canceled.

import { expect, unique } from '../lib.mjs';
import { orderThroughPages, storeStep } from '../customer.mjs';

export async function run(r) {
  const page = await r.party('customer', unique('e2e_cancel'));
  const id = await orderThroughPages(r, page, 'st_1', ['모둠튀김', '순대']);
  await page.getByText('주문이 접수되었습니다. 결제 금액 8,500원').waitFor();
  const badge = page.locator('#order-status');
  expect((await badge.textContent()) === '주문 접수', 'placed');
  await page.locator('.live-state[data-state="live"]').waitFor();
  expect(await page.locator('.timeline li').count() === 8, 'every step listed from the start');

  await storeStep(r, 'st_1', id, 'accept');
  await page.locator('#order-status', { hasText: '주문 수락' }).waitFor();
  await page.locator('.timeline li.current', { hasText: '주문 수락' }).waitFor();
  await r.axe(page, 'customer-order'); // its screenshot is taken with a rider on the map (15_tracking)

  await page.getByRole('button', { name: '주문 취소' }).click();
  await page.getByText('정말 이 주문을 취소할까요?').waitFor();
  await page.getByRole('button', { name: '아니요' }).click();
  expect(await page.getByText('정말 이 주문을 취소할까요?').isHidden(), 'not canceled after "no"');
  await page.getByRole('button', { name: '주문 취소' }).click();
  await page.getByRole('button', { name: '네, 취소합니다' }).click();
  await page.locator('#order-status', { hasText: '주문 취소' }).waitFor();
  await page.locator('#order-refund', { hasText: '8,500원 환불 완료' }).waitFor({ timeout: 30_000 });
  expect(await page.getByRole('button', { name: '주문 취소' }).isHidden(), 'no cancel once canceled');

  await r.open(page, '/customer/orders');
  const row = page.locator('.order-row', { hasText: '강남역 떡볶이' });
  await row.locator('.badge', { hasText: '주문 취소' }).waitFor();
  await r.page(page, 'customer-orders');
  await row.getByRole('link').click();
  await page.locator('#order-refund', { hasText: '환불 완료' }).waitFor();
}
