// The whole life of an order across three browser profiles: a customer orders through the
// pages and follows the order page (never reloaded); the store
// owner's board (open, never reloaded) shows it arrive live with a chime, rejects another order
// for a reason, accepts this one and cooks it; a rider (browser geolocation at the store) sees
// the delivery appear live, takes it, picks it up, is refused "not at the door" until the
// browser's position moves to the door, and delivers; the customer confirms.

import { expect, json, unique } from '../lib.mjs';
import { orderThroughPages } from '../customer.mjs';

const STORE = 'st_7'; // 잠실 족발, 서울 송파구 올림픽로 240
const AT_STORE = { latitude: 37.5133, longitude: 127.1001 };
const ADDRESS = '서울 송파구 올림픽로 300 롯데월드타워 1층';
// The checkout's delivery point in the store's own district is a short walk (≈400 m) from the
// store: a jump short enough to be plausible whatever BAEDAL_RIDER_MAX_SPEED_KMH says.

/** Another order of the same customer, placed with the JSON API (the store rejects it). */
async function order(r, customer, menu, quantity, door) {
  const res = await json('POST', `${r.api}/v1/orders`, {
    token: customer,
    headers: { 'idempotency-key': unique('key') },
    body: {
      store_id: STORE,
      items: [{ menu_item_id: menu[quantity - 1].id, quantity }],
      delivery: { address: ADDRESS, region: 'songpa', lat: door.lat, lon: door.lon },
      payment: { card_token: 'tok_ok' },
    },
  });
  expect(res.status === 201, `the order is placed: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data;
}

export async function run(r) {
  const ownerId = unique('owner');
  const owner = await r.party('store_owner', ownerId, STORE);
  // Count the chime's tones: the page makes them with the Web Audio API.
  await owner.context().addInitScript(() => {
    window.baedalTones = 0;
    const make = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function createOscillator() {
      window.baedalTones++;
      return make.call(this);
    };
  });
  await r.open(owner, '/store');
  await owner.getByRole('heading', { name: /주문 현황/ }).waitFor();
  await owner.getByText('실시간 연결됨').waitFor();
  const sound = owner.getByRole('button', { name: '소리 켜기' });
  await sound.click();
  await owner.getByRole('button', { name: '소리 끄기' }).waitFor();
  expect((await owner.getByRole('button', { name: '소리 끄기' }).getAttribute('aria-pressed')) === 'true', 'the sound toggle says it is on');
  const tonesBefore = await owner.evaluate(() => window.baedalTones);
  expect(tonesBefore > 0, 'switching the sound on plays the chime once');

  // The customer orders through the pages and stays on the order page.
  const shopper = await r.party('customer', unique('cust'));
  const customer = shopper.context().baedalToken;
  const id = await orderThroughPages(r, shopper, STORE, ['족발 중'], { address: ADDRESS });
  const mine = (await json('GET', `${r.api}/v1/orders/${id}`, { token: customer })).data;
  const DOOR = { lat: mine.delivery.lat, lon: mine.delivery.lon };
  const fixed = (n) => n.toFixed(4).replace('.', '\\.');
  const follows = (text) => shopper.locator('#order-status', { hasText: text }).waitFor();
  await follows('주문 접수');
  // From here the order page only receives live events: they must not move what is on it.
  const shiftBefore = await r.shifted(shopper);
  const { items: menu } = (await json('GET', `${r.api}/v1/stores/${STORE}/menu`)).data;
  const other = await order(r, customer, menu, 2, DOOR);

  // Live, without a reload: the board shows both, rings and announces.
  const card = owner.locator(`li[data-order-id="${mine.id}"]`);
  const otherCard = owner.locator(`li[data-order-id="${other.id}"]`);
  await card.waitFor();
  await otherCard.waitFor();
  expect(await owner.locator('section', { has: owner.getByRole('heading', { name: /새 주문/ }) }).locator(`li[data-order-id="${mine.id}"]`).count() === 1,
    'the new order is in the "new" column');
  expect((await owner.evaluate(() => window.baedalTones)) > tonesBefore, 'a new order rings the chime');
  expect(/새 주문이 들어왔습니다/.test(await owner.locator('#live').textContent()), 'a new order is announced to screen readers');
  await r.page(owner, 'store-board');

  // The stuck-order warning: the same board six minutes later (a page with a fake clock).
  const later = await r.party('store_owner', ownerId, STORE);
  await later.clock.install();
  await r.open(later, '/store');
  await later.locator(`li[data-order-id="${mine.id}"]`).waitFor();
  expect(!(await later.getByText(/오래 기다린 주문/).isVisible()), 'a fresh order is not flagged');
  await later.clock.fastForward('06:00');
  await later.locator(`li[data-order-id="${mine.id}"]`).getByText(/분째 수락 대기/).waitFor();
  await later.getByText(/오래 기다린 주문이 \d+건/).waitFor();
  await later.close();

  // Reject the other order: a reason is required.
  await otherCard.getByRole('button', { name: /거절/ }).click();
  await otherCard.getByRole('button', { name: '거절하기' }).click();
  await otherCard.getByRole('alert').getByText('거절 사유를 입력하세요.').waitFor();
  await otherCard.getByLabel('거절 사유').fill('재료 소진');
  await otherCard.getByRole('button', { name: '거절하기' }).click();
  await otherCard.waitFor({ state: 'detached' });
  const rejected = await json('GET', `${r.api}/v1/orders/${other.id}`, { token: customer });
  expect(rejected.data.status === 'rejected' && rejected.data.history.some((e) => e.reason === '재료 소진'),
    `the customer sees the rejection and its reason: ${JSON.stringify(rejected.data.history)}`);

  // Accept and cook.
  await card.getByRole('button', { name: /수락/ }).click();
  await owner.locator('section', { has: owner.getByRole('heading', { name: /수락함/ }) }).locator(`li[data-order-id="${mine.id}"]`).waitFor();
  await follows('주문 수락');
  await card.getByRole('button', { name: /조리 시작/ }).click();
  await card.getByText('조리 중', { exact: true }).waitFor();
  await follows('조리 중');

  // The rider, at the store, opens the board before the food is ready.
  const rider = await r.party('rider', unique('rider'), null, { geolocation: AT_STORE, permissions: ['geolocation'] });
  await r.open(rider, '/rider');
  await rider.getByText(/GPS 위치 37\.5133, 127\.1001/).waitFor();
  await rider.getByText('실시간 연결됨').waitFor();
  const offer = rider.locator(`li.delivery-card[data-delivery-id="${mine.id}"]`);
  expect(!(await offer.count()), 'nothing to take before the food is ready');

  await card.getByRole('button', { name: /조리 완료/ }).click();
  await offer.waitFor(); // live on the rider's board
  await follows('픽업 대기');
  expect(/0\.0 km/.test(await offer.textContent()), 'the delivery shows its distance from the rider');
  await r.page(rider, 'rider-board');

  await offer.getByRole('button', { name: /배달 잡기/ }).click();
  const trip = rider.locator(`li.my-delivery[data-delivery-id="${mine.id}"]`);
  await trip.getByText('배달원 배정').waitFor();
  await trip.getByText(ADDRESS, { exact: false }).waitFor();
  await offer.waitFor({ state: 'detached' });
  // The owner's board follows: the order is with the rider.
  await owner.locator('section', { has: owner.getByRole('heading', { name: /배달 중/ }) }).locator(`li[data-order-id="${mine.id}"]`).waitFor();
  await follows('배달원 배정');

  await trip.getByRole('button', { name: '픽업 완료' }).click();
  await trip.getByText('배달 중', { exact: true }).waitFor();
  await follows('배달 중');
  await r.page(rider, 'rider-delivery');

  // Still at the store: the server refuses the delivery.
  await trip.getByRole('button', { name: '배달 완료' }).click();
  await trip.getByRole('alert').getByText(/아직 배달지에 도착하지 않았습니다/).waitFor();

  // Ride to the door: the page reports the new position, then delivers.
  await rider.context().setGeolocation({ latitude: DOOR.lat, longitude: DOOR.lon });
  await rider.getByText(new RegExp(`GPS 위치 ${fixed(DOOR.lat)}, ${fixed(DOOR.lon)}`)).waitFor();
  await trip.getByRole('button', { name: '배달 완료' }).click();
  await rider.getByText('배달을 완료했습니다.').waitFor();
  await trip.waitFor({ state: 'detached' });
  await card.waitFor({ state: 'detached' }); // off the owner's board: delivered

  // The customer, still on the order page, sees it delivered and confirms.
  await follows('배달 완료');
  const shift = (await r.shifted(shopper)) - shiftBefore;
  expect(shift < 0.01, `no layout shift on the order page from six live events (CLS ${shift.toFixed(4)})`);
  await shopper.getByRole('button', { name: '잘 받았어요 (수령 확인)' }).click();
  await follows('주문 완료');
  const done = (await json('GET', `${r.api}/v1/orders/${mine.id}`, { token: customer })).data;
  expect(done.status === 'completed', `completed: ${done.status}`);
}
