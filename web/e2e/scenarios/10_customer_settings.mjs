// Notification settings: KakaoTalk needs a verified number (asking for KakaoTalk without one
// is refused with the reason); asking for a code is answered (sent, or "no KakaoTalk here" in
// a system without a gateway); with `--kakao <fake gateway URL>` the code is read off the
// fake gateway and confirmed, and KakaoTalk saved. The inbox lists the customer's
// notifications (an order placed through the API lands there).

import { expect, json, args, unique } from '../lib.mjs';
import { storeOf, itemOf, until } from '../customer.mjs';

export async function run(r) {
  const sub = unique('e2e_settings');
  const page = await r.party('customer', sub);
  const customer = page.context().baedalToken;
  // An order, so the inbox has something.
  const st = await storeOf(r, 'st_3');
  const item = await itemOf(r, 'st_3', '교자 6개');
  const placed = await json('POST', `${r.api}/v1/orders`, {
    token: customer,
    headers: { 'idempotency-key': unique('key') },
    body: { store_id: 'st_3', items: [{ menu_item_id: item.id, quantity: 1 }], delivery: { address: '서울 마포구 양화로 1', region: 'mapo', lat: st.lat + 0.002, lon: st.lon }, payment: { card_token: 'tok_ok' } },
  });
  expect(placed.status === 201, `an order: ${placed.status} ${JSON.stringify(placed.data)}`);

  await r.open(page, '/customer/settings');
  await page.getByRole('heading', { name: '알림 설정', level: 1 }).waitFor();
  expect(await page.getByLabel('앱 알림함에 보관').isChecked(), 'the inbox is on by default');
  expect(!(await page.getByLabel('카카오톡 알림톡으로 받기').isChecked()), 'KakaoTalk off by default');

  // KakaoTalk without a number: refused with the reason, next to the form.
  await page.getByLabel('카카오톡 알림톡으로 받기').check();
  await page.getByRole('button', { name: '저장' }).click();
  // In the user's language, saying what to do (not the API's English message).
  await page.getByRole('alert').filter({ hasText: '카카오톡 알림을 받으려면 휴대폰 번호를 먼저 인증하세요.' }).waitFor();

  const phone = '010-5555-0101';
  await page.getByLabel('휴대폰 번호').fill(phone);
  await page.getByRole('button', { name: '인증번호 받기' }).click();
  const sent = page.getByText(/인증번호를 보냈습니다/);
  const refused = page.getByRole('alert').filter({ hasText: /카카오|KakaoTalk|kakao/i });
  await sent.or(refused).first().waitFor();
  if (await sent.isVisible()) {
    await page.getByLabel('인증번호 6자리').waitFor();
    if (args.kakao) {
      const code = await until(async () => {
        const all = await (await fetch(`${args.kakao}/requests`)).json();
        const hit = [...all].reverse().find((q) => q.body?.template_code === 'BAEDAL_PHONE_VERIFY' && q.body?.recipient === phone.replace(/-/g, ''));
        return hit?.body?.variables?.['인증번호'];
      }, 'the code at the fake gateway');
      await page.getByLabel('인증번호 6자리').fill(code);
      await page.getByRole('button', { name: '인증하기' }).click();
      await page.getByText(/번호가 인증되었습니다/).waitFor();
      await page.getByRole('button', { name: '저장' }).click();
      await page.getByText('알림 설정을 저장했습니다.').waitFor();
      const prefs = await json('GET', `${r.api}/v1/me/notifications`, { token: customer });
      expect(prefs.data.kakao === true, `KakaoTalk saved: ${JSON.stringify(prefs.data)}`);
    } else {
      // A wrong code is refused with how many tries are left.
      await page.getByLabel('인증번호 6자리').fill('000000');
      await page.getByRole('button', { name: '인증하기' }).click();
      await page.getByRole('alert').filter({ hasText: /./ }).first().waitFor();
    }
  }

  // The inbox: the placed order's notification.
  await until(async () => {
    await page.getByRole('button', { name: '새로고침' }).click();
    await page.waitForTimeout(500);
    return page.locator('#inbox .inbox-item').count();
  }, 'a notification in the inbox', 20_000);
  await page.locator('#inbox .inbox-item .badge', { hasText: '주문 접수' }).first().waitFor();
  await r.page(page, 'customer-settings');
}
