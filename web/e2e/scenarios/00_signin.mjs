// Sign-in: a visitor lands on the sign-in page, gets a dev token for a role from the form,
// and lands on that role's home; the language switch turns the page English and back.

import { expect } from '../lib.mjs';

export async function run(r) {
  const page = await r.party(null, null, null);
  await r.open(page, '/');
  await page.waitForURL(/#\/signin$/);
  expect((await page.locator('html').getAttribute('lang')) === 'ko', 'Korean first');
  await r.page(page, 'signin');

  await page.getByLabel('역할').selectOption('customer');
  await page.getByLabel('아이디').fill('e2e_alice');
  await page.getByRole('button', { name: '로그인' }).first().click();
  await page.waitForURL(/#\/customer$/);
  await page.getByRole('heading', { name: '강남역 떡볶이' }).waitFor();
  expect(await page.getByText('고객 · e2e_alice').isVisible(), 'the header names who is signed in');
  await r.page(page, 'customer-stores');

  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Where should we deliver?' }).waitFor();
  expect((await page.locator('html').getAttribute('lang')) === 'en', '<html lang> follows the switch');
  await page.getByRole('button', { name: '한국어' }).click();
  await page.getByRole('heading', { name: '어디로 배달할까요?' }).waitFor();

  await page.getByRole('button', { name: '마포구' }).click();
  await page.getByRole('heading', { name: '홍대 돈코츠라멘' }).waitFor();

  await page.getByRole('button', { name: '로그아웃' }).click();
  await page.waitForURL(/#\/signin$/);
}
