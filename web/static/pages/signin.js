// Sign-in. In `baedal dev`: pick a role and an id and get a dev token (POST /v1/dev/tokens);
// anywhere: paste the bearer token the identity provider issued (deploy/README.md, "Tokens").

import { h, mount, field, section } from '../lib/dom.js';
import { t, words } from '../lib/i18n.js';
import { post, get, ApiError } from '../lib/api.js';
import { signIn, setting } from '../lib/session.js';
import { go } from '../app.js';

words({
  ko: {
    'signin.title': '로그인',
    'signin.dev': '개발용 토큰으로 로그인',
    'signin.role': '역할',
    'signin.sub': '아이디',
    'signin.sub_hint': '고객·배달원·사장님 아이디 (예: alice, rd_1)',
    'signin.store': '가게',
    'signin.go': '로그인',
    'signin.paste': '토큰 붙여넣기',
    'signin.token': '액세스 토큰',
    'signin.token_hint': '신원 제공자(IdP)가 발급한 Bearer 토큰',
    'signin.bad_token': '읽을 수 없는 토큰입니다. 신원 제공자가 발급한 JWT를 붙여넣으세요.',
  },
  en: {
    'signin.title': 'Sign in',
    'signin.dev': 'Sign in with a dev token',
    'signin.role': 'Role',
    'signin.sub': 'User id',
    'signin.sub_hint': 'customer, rider or owner id (e.g. alice, rd_1)',
    'signin.store': 'Store',
    'signin.go': 'Sign in',
    'signin.paste': 'Paste a token',
    'signin.token': 'Access token',
    'signin.token_hint': 'the bearer token your identity provider issued',
    'signin.bad_token': 'That is not a token this page can read. Paste the JWT your identity provider issued.',
  },
});

const ROLES = ['customer', 'store_owner', 'rider', 'ops'];

export async function render(main) {
  const parts = [h('h1', {}, t('signin.title'))];
  if (sessionStorage.getItem('baedal.signin_note') === 'expired') {
    sessionStorage.removeItem('baedal.signin_note');
    parts.push(h('p', { class: 'notice', role: 'status' }, t('error.unauthorized')));
  }
  if (setting('dev') === 'true') parts.push(await devForm());
  parts.push(pasteForm());
  mount(main, parts);
}

async function devForm() {
  const error = h('p', { class: 'error', role: 'alert' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, t(`role.${r}`))));
  const sub = h('input', { name: 'sub', required: true, maxlength: 100, autocomplete: 'username', value: 'alice' });
  const store = h('select', { name: 'store_id' });
  const storeField = field(t('signin.store'), store);
  try {
    const { stores } = await get('/v1/stores?limit=100');
    store.append(...stores.map((st) => h('option', { value: st.id }, `${st.name} (${st.id})`)));
  } catch { /* the form still works for the other roles */ }
  const defaults = { customer: 'alice', store_owner: 'owner_1', rider: 'rd_1', ops: 'ops_1' };
  const sync = () => {
    storeField.hidden = role.value !== 'store_owner';
    if (Object.values(defaults).includes(sub.value) || !sub.value) sub.value = defaults[role.value];
  };
  role.addEventListener('change', sync);
  sync();
  const form = h('form', { class: 'card stack' },
    field(t('signin.role'), role),
    field(t('signin.sub'), sub, t('signin.sub_hint')),
    storeField,
    h('button', { type: 'submit', class: 'primary' }, t('signin.go')),
    error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = { role: role.value, sub: sub.value.trim() };
    if (role.value === 'store_owner') body.store_id = store.value;
    try {
      const { token } = await post('/v1/dev/tokens', body);
      signIn(token);
      go('/');
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.userMessage : String(err);
    }
  });
  return section(t('signin.dev'), form);
}

function pasteForm() {
  const error = h('p', { class: 'error', role: 'alert' });
  const token = h('textarea', { name: 'token', rows: 3, required: true, spellcheck: 'false', autocomplete: 'off' });
  const form = h('form', { class: 'card stack' },
    field(t('signin.token'), token, t('signin.token_hint')),
    h('button', { type: 'submit' }, t('signin.go')),
    error);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (signIn(token.value)) go('/');
    else error.textContent = t('signin.bad_token');
  });
  return section(t('signin.paste'), form);
}
