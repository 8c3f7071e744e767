// A rider who refuses the browser's location: the page says so and offers the district picker;
// the district's deliveries show by distance from its centre; the rider takes one, is told
// "not at the store" on pickup (the server judges the real position), and gives it back.

import { expect, json, token, unique } from '../lib.mjs';

const STORE = 'st_3'; // 홍대 돈코츠라멘, 마포구

export async function run(r) {
  // A delivery waiting in 마포구 (set up with the JSON API).
  const customer = await token('customer', unique('cust'));
  const owner = await token('store_owner', unique('owner'), STORE);
  const { items } = (await json('GET', `${r.api}/v1/stores/${STORE}/menu`)).data;
  const placed = await json('POST', `${r.api}/v1/orders`, {
    token: customer,
    headers: { 'idempotency-key': unique('key') },
    body: {
      store_id: STORE, items: [{ menu_item_id: items[0].id, quantity: 1 }],
      delivery: { address: '서울 마포구 양화로 188', region: 'mapo', lat: 37.5575, lon: 126.9250 },
      payment: { card_token: 'tok_ok' },
    },
  });
  expect(placed.status === 201, `placed: ${placed.status} ${JSON.stringify(placed.data)}`);
  const id = placed.data.id;
  for (const step of ['accept', 'start-cooking', 'finish-cooking']) {
    const res = await json('POST', `${r.api}/v1/store/orders/${id}/${step}`, { token: owner, body: {} });
    expect(res.status === 200, `${step}: ${res.status} ${JSON.stringify(res.data)}`);
  }

  try {
    const rider = await r.party('rider', unique('rider'), null); // no geolocation permission
    await r.open(rider, '/rider');
    await rider.getByText(/위치 권한이 없어 지역을 골라/).waitFor();
    const where = rider.getByLabel('위치 기준');
    expect(await where.locator('option[value="gps"]').isDisabled(), 'GPS cannot be chosen once refused');
    await where.selectOption('mapo');
    await rider.getByText(/마포구 중심/).waitFor();
    const offer = rider.locator(`li.delivery-card[data-delivery-id="${id}"]`);
    await offer.waitFor();
    expect(/가게까지 \d+\.\d km/.test(await offer.textContent()), 'the distance from the district centre');
    await r.page(rider, 'rider-district');

    await offer.getByRole('button', { name: /배달 잡기/ }).click();
    const trip = rider.locator(`li.my-delivery[data-delivery-id="${id}"]`);
    await trip.getByText('배달원 배정').waitFor();
    await trip.getByRole('button', { name: '픽업 완료' }).click();
    await trip.getByRole('alert').getByText(/아직 가게에 도착하지 않았습니다/).waitFor();

    await trip.getByRole('button', { name: '배달 포기' }).click();
    await rider.getByText('배달을 내려놓았습니다. 다른 배달원이 맡을 수 있습니다.').waitFor();
    await trip.waitFor({ state: 'detached' });
    await offer.waitFor(); // back on the board
    const view = await json('GET', `${r.api}/v1/orders/${id}`, { token: customer });
    expect(view.data.status === 'ready_for_pickup' && !view.data.rider_id, `released: ${view.data.status}`);
  } finally {
    // Leave no delivery waiting for the next scenario's riders.
    const ops = await token('ops', 'e2e_ops');
    await json('POST', `${r.api}/v1/ops/orders/${id}/cancel`, { token: ops, body: { reason: 'e2e clean-up' } });
  }
}
