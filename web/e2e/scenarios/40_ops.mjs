// Ops: the operations page as ops sees it. The payment breaker shows closed; an order placed
// through the JSON API raises the live count of placed orders; left unaccepted past the stuck
// threshold (the test system's is 4 s) it appears in the stuck list by itself, ops cancels it
// from the page (a reason is required: an empty one is refused in the page), it leaves the
// list and its refund shows; a webhook registered by ops is listed with its deliveries; and
// after a payment outage (the payment service's fault switch) the breaker shows open.

import { createServer } from 'node:http';
import { expect, json, token, unique, until } from '../lib.mjs';

/** A customer's order at the first Gangnam store, placed through the JSON API. */
async function place(r, customerToken, card = 'tok_ok') {
  const { data: { stores } } = await json('GET', `${r.api}/v1/stores?region=gangnam`);
  const store = stores[0];
  const { data: menu } = await json('GET', `${r.api}/v1/stores/${store.id}/menu`);
  const item = menu.items.find((i) => i.available);
  return json('POST', `${r.api}/v1/orders`, {
    token: customerToken,
    headers: { 'idempotency-key': crypto.randomUUID() },
    body: {
      store_id: store.id,
      items: [{ menu_item_id: item.id, quantity: 1 }],
      delivery: { address: '서울 강남구 테헤란로 1', region: 'gangnam', lat: store.lat + 0.002, lon: store.lon + 0.002 },
      payment: { card_token: card },
    },
  });
}

/**
 * An open breaker half-opens only when a charge comes (and closes on the probes' success):
 * place healthy orders (canceled again at once, so they clutter no one's stuck list) until the
 * breaker reports closed. Run after the outage, and before the scenario if an earlier run left
 * it open.
 */
async function heal(r, opsToken) {
  const customer = await token('customer', unique('e2e_ops_heal'));
  await until(async () => {
    const { data } = await json('GET', `${r.api}/v1/ops/payment`, { token: opsToken });
    if (!data.breaker || data.breaker.state === 'closed') return true;
    const probe = await place(r, customer);
    if (probe.status === 201) {
      await json('POST', `${r.api}/v1/ops/orders/${probe.data.id}/cancel`, { token: opsToken, body: { reason: 'e2e: breaker probe' } });
    }
    await new Promise((res) => setTimeout(res, 1000));
    return false;
  }, 'the breaker closes again once payment is back', 40_000);
}

export async function run(r) {
  const page = await r.party('ops', 'e2e_ops', null);
  const opsToken = page.context().baedalToken;
  await heal(r, opsToken);
  await r.open(page, '/ops');
  await page.getByRole('heading', { name: '운영 현황', level: 1 }).waitFor();

  // The breaker: closed (every worker publishes it at least every 10 s).
  const breaker = page.locator('[data-panel="breaker"] p[data-state]');
  await until(async () => (await breaker.getAttribute('data-state')) === 'closed', 'the breaker shows closed', 25_000);
  expect(await page.locator('[data-panel="breaker"]').getByText('정상 (닫힘)').isVisible(), 'the breaker says so in Korean');

  // Orders by status: the placed count goes up when an order is placed.
  const placedCount = page.locator('button[data-status="placed"] .count');
  await until(async () => (await placedCount.getAttribute('data-count')) != null, 'the counts load', 10_000);
  const before = Number(await placedCount.getAttribute('data-count'));

  const customer = await token('customer', unique('e2e_ops_cust'));
  const placed = await place(r, customer);
  expect(placed.status === 201, `the order is placed: ${placed.status} ${JSON.stringify(placed.data)}`);
  const id = placed.data.id;

  {
    await until(async () => Number(await placedCount.getAttribute('data-count')) > before,
      `the placed count rises above ${before} without a reload`, 15_000);
    // The placed orders' list names it (the status list is the chosen tab, placed first).
    await until(() => page.locator(`table[data-list="orders"] tr[data-order="${id}"]`).count(), 'the order in the placed list', 15_000);
  }

  // A webhook ops registered shows in the overview, and gets the cancel below: a receiver on
  // this machine (the test system allows local targets; a deployment refuses them).
  const received = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push(body); res.writeHead(204).end(); });
  });
  await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
  const hook = await json('POST', `${r.api}/v1/hooks`, {
    token: opsToken,
    body: { url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ['order.canceled'] },
  });
  try {
    expect(hook.status === 201, `ops registers a webhook: ${hook.status} ${JSON.stringify(hook.data)} (the system must allow local targets)`);
    await afterHook(r, page, opsToken, hook, id, breaker, received);
  } finally {
    if (hook.status === 201) await json('DELETE', `${r.api}/v1/hooks/${hook.data.id}`, { token: opsToken });
    receiver.close();
  }
}

async function afterHook(r, page, opsToken, hook, id, breaker, received) {
  await page.getByRole('button', { name: '웹훅 다시 불러오기' }).click();
  const card = page.locator(`li[data-hook="${hook.data.id}"]`);
  await card.waitFor();
  expect(await card.getByText('사용 중').isVisible(), 'the hook shows as active');
  await card.getByRole('button', { name: '최근 전송 보기' }).click();
  await card.getByRole('button', { name: '최근 전송 닫기' }).waitFor();
  await card.getByRole('button', { name: '최근 전송 닫기' }).click();

  // The order sits unaccepted: past the stuck threshold it appears in the stuck list by itself.
  const stuckRow = page.locator(`ul[data-list="stuck"] li[data-order="${id}"]`);
  await stuckRow.waitFor({ timeout: 30_000 });
  expect(await stuckRow.getByText('주문 접수').isVisible(), 'the stuck order shows its status');
  await r.page(page, 'ops');

  // Ops cancel: the reason is required, then the order leaves the list and its refund shows.
  await stuckRow.getByRole('button', { name: `운영 취소: ${id}` }).click();
  await stuckRow.getByRole('button', { name: '취소하고 환불' }).click();
  await stuckRow.getByText('취소 사유를 입력하세요.').waitFor();
  await stuckRow.getByLabel('취소 사유').fill('가게 연락 두절 (e2e)');
  await stuckRow.getByRole('button', { name: '취소하고 환불' }).click();
  await stuckRow.waitFor({ state: 'detached' });
  const handled = page.locator(`ul[data-list="handled"] li[data-order="${id}"]`);
  await handled.waitFor();
  const refund = handled.locator('[data-refund]');
  await until(async () => ['pending', 'succeeded'].includes(await refund.getAttribute('data-refund')),
    'the canceled order shows its refund', 20_000);
  const after = await json('GET', `${r.api}/v1/orders/${id}`, { token: opsToken });
  expect(after.data.status === 'canceled', `the order is canceled: ${after.data.status}`);
  expect(after.data.refund && ['pending', 'succeeded'].includes(after.data.refund.status), `a refund is owed: ${JSON.stringify(after.data.refund)}`);
  await until(async () => (await refund.getAttribute('data-refund')) === 'succeeded', 'the refund goes through', 30_000);
  // The webhook got the cancel, and the overview lists that delivery.
  await until(async () => received.some((b) => b.includes(id) && b.includes('order.canceled')), 'the receiver gets order.canceled', 20_000);
  await card.getByRole('button', { name: '최근 전송 보기' }).click();
  await card.locator(`code[title="${id}"]`).waitFor();
  // It stays out of the stuck list on the next refreshes.
  await page.waitForTimeout(5_500);
  expect((await stuckRow.count()) === 0, 'the canceled order stays out of the stuck list');

  // A payment outage: declined-by-outage place attempts, and the breaker shows open.
  const faults = `${r.payment}/v1/admin/faults`;
  const on = await json('PUT', faults, { token: opsToken, body: { unavailable: true, latency_ms: 0, error_rate: 0 } });
  expect(on.status === 200, `the payment fault switch turns on: ${on.status} ${JSON.stringify(on.data)}`);
  try {
    const outage = await token('customer', unique('e2e_ops_outage'));
    let refused = 0;
    await until(async () => {
      const attempt = await place(r, outage);
      if (attempt.status === 503) refused++;
      return (await breaker.getAttribute('data-state')) === 'open';
    }, 'the breaker shows open after the outage', 45_000);
    expect(refused > 0, 'place attempts were refused while payment was down');
    expect(await page.locator('[data-panel="breaker"]').getByText('차단됨 (열림)').isVisible(), 'the open breaker is said in Korean');
  } finally {
    await json('PUT', faults, { token: opsToken, body: { unavailable: false, latency_ms: 0, error_rate: 0 } });
  }
  await heal(r, opsToken);
  await until(async () => (await breaker.getAttribute('data-state')) === 'closed', 'the page shows the breaker closed again', 15_000);
}
