// Customer: how to be told about orders (the in-app inbox, KakaoTalk on a phone number proven
// with a one-time code) and the inbox itself.

import { h, mount, field, section } from '../../lib/dom.js';
import { t, words, clock, status } from '../../lib/i18n.js';
import { get, post, put, ApiError } from '../../lib/api.js';

words({
  ko: {
    'settings.title': '알림 설정',
    'settings.channels': '알림 받는 방법',
    'settings.inbox': '앱 알림함에 보관',
    'settings.kakao': '카카오톡 알림톡으로 받기',
    'settings.kakao_hint': '카카오톡이 없는 번호는 문자로 받습니다. 번호 인증이 필요합니다.',
    'settings.phone': '휴대폰 번호',
    'settings.phone_hint': '예: 010-1234-5678',
    'settings.send_code': '인증번호 받기',
    'settings.code_sent': '{phone}(으)로 인증번호를 보냈습니다. {minutes}분 안에 입력하세요.',
    'settings.code': '인증번호 6자리',
    'settings.confirm_code': '인증하기',
    'settings.verified': '{phone} 번호가 인증되었습니다.',
    'settings.save': '저장',
    'settings.saved': '알림 설정을 저장했습니다.',
    'settings.inbox_title': '알림함',
    'settings.inbox_none': '받은 알림이 없습니다.',
    'settings.inbox_refresh': '새로고침',
    'settings.inbox_unavailable': '알림함을 불러올 수 없습니다.',
    'settings.order_link': '주문 보기',
    'status.refunded': '환불 완료',
  },
  en: {
    'settings.title': 'Notifications',
    'settings.channels': 'How to tell you',
    'settings.inbox': 'Keep them in the app’s inbox',
    'settings.kakao': 'Send them on KakaoTalk',
    'settings.kakao_hint': 'A number without KakaoTalk gets a text message. The number must be verified.',
    'settings.phone': 'Mobile number',
    'settings.phone_hint': 'e.g. 010-1234-5678',
    'settings.send_code': 'Send a code',
    'settings.code_sent': 'A code went to {phone}. Enter it within {minutes} min.',
    'settings.code': '6-digit code',
    'settings.confirm_code': 'Verify',
    'settings.verified': '{phone} is verified.',
    'settings.save': 'Save',
    'settings.saved': 'Notification settings saved.',
    'settings.inbox_title': 'Inbox',
    'settings.inbox_none': 'No notifications yet.',
    'settings.inbox_refresh': 'Refresh',
    'settings.inbox_unavailable': 'The inbox cannot be shown.',
    'settings.order_link': 'See the order',
    'status.refunded': 'Refunded',
  },
});

const message = (err) => (err instanceof ApiError ? err.userMessage : String(err));

export async function render(main) {
  let prefs = { kakao: false, inbox: true, phone: null };
  const loadError = h('p', { class: 'error', role: 'alert' });
  try {
    prefs = await get('/v1/me/notifications');
  } catch (err) {
    loadError.textContent = message(err);
  }

  // ---- channels ------------------------------------------------------------------------
  const inbox = h('input', { type: 'checkbox', id: 'pref-inbox', checked: prefs.inbox });
  const kakao = h('input', { type: 'checkbox', id: 'pref-kakao', checked: prefs.kakao, 'aria-describedby': 'pref-kakao-hint' });
  const phone = h('input', { type: 'tel', name: 'phone', autocomplete: 'tel-national', inputmode: 'tel', maxlength: 20, value: prefs.phone ?? '' });
  const sendCode = h('button', { type: 'button' }, t('settings.send_code'));
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, pattern: '[0-9]{6}' });
  const confirmCode = h('button', { type: 'button' }, t('settings.confirm_code'));
  const codeBox = h('div', { class: 'stack', hidden: true },
    field(t('settings.code'), code),
    confirmCode);
  const verifyError = h('p', { class: 'error', role: 'alert' });
  const verifyOk = h('p', { class: 'ok', role: 'status' });
  const saveError = h('p', { class: 'error', role: 'alert' });
  const saveOk = h('p', { class: 'ok', role: 'status' });
  const form = h('form', { class: 'card stack' },
    h('div', { class: 'check' }, inbox, h('label', { for: 'pref-inbox' }, t('settings.inbox'))),
    h('div', { class: 'check' }, kakao, h('label', { for: 'pref-kakao' }, t('settings.kakao'))),
    h('small', { class: 'hint', id: 'pref-kakao-hint' }, t('settings.kakao_hint')),
    field(t('settings.phone'), phone, t('settings.phone_hint')),
    h('div', { class: 'row' }, sendCode),
    codeBox,
    verifyError,
    verifyOk,
    h('button', { type: 'submit', class: 'primary' }, t('settings.save')),
    saveError,
    saveOk);

  sendCode.addEventListener('click', async () => {
    verifyError.textContent = '';
    verifyOk.textContent = '';
    if (!phone.value.trim()) { phone.focus(); return; }
    sendCode.disabled = true;
    try {
      const sent = await post('/v1/me/phone/verify', { phone: phone.value.trim() });
      verifyOk.textContent = t('settings.code_sent', { phone: sent.phone, minutes: Math.max(1, Math.round(sent.expires_in_secs / 60)) });
      codeBox.hidden = false;
      code.focus();
    } catch (err) {
      verifyError.textContent = message(err);
    } finally {
      sendCode.disabled = false;
    }
  });
  confirmCode.addEventListener('click', async () => {
    verifyError.textContent = '';
    confirmCode.disabled = true;
    try {
      const ok = await post('/v1/me/phone/confirm', { code: code.value.trim() });
      verifyOk.textContent = t('settings.verified', { phone: ok.phone });
      phone.value = ok.phone;
      codeBox.hidden = true;
      code.value = '';
      kakao.focus();
    } catch (err) {
      verifyError.textContent = message(err);
    } finally {
      confirmCode.disabled = false;
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    saveError.textContent = '';
    saveOk.textContent = '';
    const body = { kakao: kakao.checked, inbox: inbox.checked };
    if (phone.value.trim()) body.phone = phone.value.trim();
    try {
      prefs = await put('/v1/me/notifications', body);
      kakao.checked = prefs.kakao;
      inbox.checked = prefs.inbox;
      phone.value = prefs.phone ?? '';
      saveOk.textContent = t('settings.saved');
    } catch (err) {
      saveError.textContent = message(err);
    }
  });

  // ---- the inbox -----------------------------------------------------------------------
  const list = h('ul', { class: 'plain stack', id: 'inbox', 'aria-live': 'polite' });
  const inboxError = h('p', { class: 'error', role: 'alert' });
  const refresh = h('button', { type: 'button' }, t('settings.inbox_refresh'));

  async function loadInbox() {
    inboxError.textContent = '';
    refresh.disabled = true;
    try {
      const { notifications } = await get('/v1/me/inbox?limit=50');
      const newest = [...notifications].sort((a, b) => (b.id ?? 0) - (a.id ?? 0) || String(b.created_at).localeCompare(String(a.created_at)));
      mount(list, newest.length
        ? newest.map((n) => h('li', { class: 'card inbox-item' },
          h('div', { class: 'spread' },
            h('span', { class: 'badge' }, status(n.status)),
            h('span', { class: 'muted' }, n.created_at ? clock(n.created_at) : '')),
          h('p', {}, n.message),
          n.order_id ? h('a', { href: `#/customer/orders/${encodeURIComponent(n.order_id)}` }, t('settings.order_link'),
            h('span', { class: 'sr-only' }, ` (${n.order_id.slice(0, 12)})`)) : null))
        : h('li', { class: 'muted' }, t('settings.inbox_none')));
    } catch (err) {
      mount(list);
      inboxError.textContent = err instanceof ApiError && err.status === 404 ? t('settings.inbox_unavailable') : message(err);
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', loadInbox);

  mount(main,
    h('h1', {}, t('settings.title')),
    loadError,
    section(t('settings.channels'), form),
    section(t('settings.inbox_title'), h('div', { class: 'row' }, refresh), inboxError, list));
  await loadInbox();
}
