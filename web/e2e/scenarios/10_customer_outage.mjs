// A payment outage: with the payment service's fault switch on, the checkout answers
// "결제가 잠시 어렵습니다 — N초 후 다시 시도하세요" and keeps the attempt (its Idempotency-Key
// and body) across a reload; with the switch off, the retry button places the order, and
// the payment ledger holds exactly one charge for it.

import { expect, json, token, unique } from '../lib.mjs';
import { fillCart, toCheckout, payButton, until } from '../customer.mjs';

export async function run(r) {
  const ops = await token('ops', 'e2e_ops');
  const faults = `${r.payment}/v1/admin/faults`;
  const before = await json('GET', faults, { token: ops });
  expect(before.status === 200, `the fault switch reads: ${before.status} ${JSON.stringify(before.data)}`);
  // The outage's 503s are the point of this scenario.
  r.allow(/status of 503/);
  const page = await r.party('customer', unique('e2e_outage'));
  try {
    await fillCart(r, page, 'st_2', ['후라이드치킨', '콜라 1.25L']);
    await toCheckout(page, { card: 'tok_ok', address: '서울 강남구 테헤란로 152' });
    const on = await json('PUT', faults, { token: ops, body: { ...before.data, unavailable: true } });
    expect(on.status === 200, `fault switch on: ${on.status} ${JSON.stringify(on.data)}`);

    await payButton(page).click();
    const busy = page.getByText(/결제가 잠시 어렵습니다 — (\d+초 후 다시 시도하세요|지금 다시 시도해 보세요)/);
    await busy.waitFor({ timeout: 30_000 });
    const said = await busy.textContent();
    expect(/\d+초 후 다시 시도하세요/.test(said), `the wait in seconds: ${said}`);
    const kept = await page.evaluate(() => sessionStorage.getItem('baedal.pending.st_2'));
    expect(kept, 'the attempt is kept until the order exists');
    const { key } = JSON.parse(kept);

    // A reload keeps the attempt: the page offers the same order again.
    await page.reload();
    await page.getByText('완료되지 않은 주문 시도가 있습니다').waitFor();
    expect(JSON.parse(await page.evaluate(() => sessionStorage.getItem('baedal.pending.st_2'))).key === key, 'the same key after a reload');

    const off = await json('PUT', faults, { token: ops, body: { ...before.data, unavailable: false } });
    expect(off.status === 200, `fault switch off: ${off.status}`);

    // Retry until the breaker lets the charge through (each retry: the same key and body).
    const orderId = await until(async () => {
      await page.getByRole('button', { name: '같은 주문으로 다시 시도' }).click();
      const landed = await page.waitForURL(/#\/customer\/orders\/ord_/, { timeout: 12_000 }).then(() => true, () => false);
      if (landed) return decodeURIComponent(page.url().split('/').pop());
      const again = JSON.parse(await page.evaluate(() => sessionStorage.getItem('baedal.pending.st_2')));
      expect(again?.key === key, 'a retry keeps the key');
      await page.waitForTimeout(2000);
      return null;
    }, 'the order placed after the outage', 90_000);
    await page.getByText('주문이 접수되었습니다. 결제 금액 21,500원').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('baedal.pending.st_2')) === null, 'the attempt is forgotten once placed');

    const ledger = await json('GET', `${r.payment}/v1/payments?order_id=${encodeURIComponent(orderId)}`, { token: ops });
    expect(ledger.status === 200, `the ledger reads: ${ledger.status}`);
    const charges = ledger.data.payments.filter((p) => p.kind === 'charge' && p.status === 'succeeded');
    expect(charges.length === 1, `exactly one charge for ${orderId}: ${JSON.stringify(ledger.data.payments)}`);
    expect(charges[0].amount === 21500, `charged the server's total: ${charges[0].amount}`);
  } finally {
    await json('PUT', faults, { token: ops, body: { ...before.data, unavailable: false } });
  }
}
