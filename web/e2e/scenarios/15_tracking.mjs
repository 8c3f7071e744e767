// The whole delivery from the customer's side, and the tracking link: the customer orders and
// shares a tracking link; someone without an account follows it (status, then the arrival time
// once the rider reports positions); the store cooks, a rider claims (the order page shows the
// rider on the map and the estimate, live), picks up and delivers; the customer confirms, and
// the tracking link then says it has expired (410).

import { expect, token, unique } from '../lib.mjs';
import { orderThroughPages, storeStep, riderAt, riderStep, orderView, until } from '../customer.mjs';

export async function run(r) {
  const page = await r.party('customer', unique('e2e_track'));
  const customer = page.context().baedalToken;
  const id = await orderThroughPages(r, page, 'st_1', ['국물떡볶이', '김밥'], { address: '서울 강남구 강남대로 400' });
  await page.locator('.live-state[data-state="live"]').waitFor();

  await page.getByRole('button', { name: '추적 링크 공유' }).click();
  await page.getByLabel('추적 링크').waitFor();
  const link = await until(() => page.getByLabel('추적 링크').inputValue(), 'the link shown');
  expect(/\/#\/track\/[^/]+$/.test(link), `a tracking link: ${link}`);

  const anon = await r.party(null, null, null);
  await anon.goto(link);
  await anon.locator('#track-status', { hasText: '주문 접수' }).waitFor();
  await anon.getByText('강남역 떡볶이에서 오는 주문').waitFor();
  await r.page(anon, 'track');

  for (const step of ['accept', 'start-cooking', 'finish-cooking']) await storeStep(r, 'st_1', id, step);
  await page.locator('#order-status', { hasText: '픽업 대기' }).waitFor();

  const view = await orderView(r, customer, id);
  const rider = await token('rider', unique('e2e_rd'));
  await riderAt(r, rider, view.pickup.lat + 0.001, view.pickup.lon);
  await riderStep(r, rider, id, 'claim');
  await riderAt(r, rider, view.pickup.lat + 0.0005, view.pickup.lon);
  // Live on the order page: the rider is assigned, on the map, with an arrival time.
  await page.locator('#order-status', { hasText: '배달원 배정' }).waitFor();
  await page.locator('#order-eta', { hasText: /약 \d+분 후 도착/ }).waitFor({ timeout: 20_000 });
  await page.locator('svg.map .map-rider').waitFor();
  await r.page(page, 'customer-order');
  // The tracking page reads again every 10 s.
  await anon.locator('#track-eta', { hasText: /약 \d+분 후 도착/ }).waitFor({ timeout: 25_000 });

  await riderAt(r, rider, view.pickup.lat, view.pickup.lon);
  await riderStep(r, rider, id, 'pickup');
  await riderAt(r, rider, view.delivery.lat, view.delivery.lon);
  await riderStep(r, rider, id, 'deliver');
  await page.locator('#order-status', { hasText: '배달 완료' }).waitFor();
  await page.getByRole('button', { name: '잘 받았어요 (수령 확인)' }).click();
  await page.locator('#order-status', { hasText: '주문 완료' }).waitFor();
  await page.getByText('수령을 확인했습니다').waitFor();
  expect(await page.getByRole('button', { name: '추적 링크 공유' }).isHidden(), 'no link to share once the order ended');

  // The order ended: the link expired (the page finds out at its next read).
  await anon.getByText('이 추적 링크는 만료되었습니다').waitFor({ timeout: 25_000 });
  await r.axe(anon, 'track (expired)');
}
