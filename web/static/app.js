// The shell: the route table (hash routes, so every page is `/` to the server and a shared
// link works without server routes), the header (who is signed in, language, sign out) and
// the life of a page: each page's `render(main, params)` returns what to close (its live
// streams and timers) when the user leaves it.

import { h, mount } from './lib/dom.js';
import { lang, setLang, t } from './lib/i18n.js';
import { current, signOut } from './lib/session.js';

/** pattern → the page module, and who may open it (null: anyone, signed in or not). */
const ROUTES = [
  ['/signin', './pages/signin.js', null],
  ['/track/:token', './pages/track.js', null],
  ['/customer', './pages/customer/stores.js', 'customer'],
  ['/customer/stores/:id', './pages/customer/store.js', 'customer'],
  ['/customer/orders', './pages/customer/orders.js', 'customer'],
  ['/customer/orders/:id', './pages/customer/order.js', 'customer'],
  ['/customer/settings', './pages/customer/settings.js', 'customer'],
  ['/store', './pages/store/board.js', 'store_owner'],
  ['/store/menu', './pages/store/menu.js', 'store_owner'],
  ['/rider', './pages/rider/board.js', 'rider'],
  ['/ops', './pages/ops/overview.js', 'ops'],
];

/** Each role's home and the links of its menu. */
const HOMES = {
  customer: [['/customer', 'nav.stores'], ['/customer/orders', 'nav.orders'], ['/customer/settings', 'nav.settings']],
  store_owner: [['/store', 'nav.board'], ['/store/menu', 'nav.menu']],
  rider: [['/rider', 'nav.deliveries']],
  ops: [['/ops', 'nav.ops']],
};

let leave = null;

/** A path segment as written, or null when it is not valid percent-encoding (no such page). */
function decode(segment) {
  try { return decodeURIComponent(segment); } catch { return null; }
}

function match(path) {
  for (const [pattern, module, role] of ROUTES) {
    const want = pattern.split('/');
    const got = path.split('/');
    if (want.length !== got.length) continue;
    const params = {};
    if (want.every((seg, i) => (seg.startsWith(':') ? ((params[seg.slice(1)] = decode(got[i])) != null) : seg === got[i]))) {
      return { module, role, params };
    }
  }
  return null;
}

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

function header() {
  const who = current();
  document.getElementById('lang').textContent = t('lang.switch');
  document.getElementById('lang').setAttribute('lang', lang() === 'ko' ? 'en' : 'ko');
  const out = document.getElementById('signout');
  out.textContent = t('signout');
  out.hidden = !who;
  document.getElementById('who').textContent = who ? `${t(`role.${who.role}`)} · ${who.sub}` : '';
  const here = location.hash.slice(1) || '/';
  mount(
    document.getElementById('nav'),
    (who ? HOMES[who.role] ?? [] : []).map(([path, key]) =>
      h('a', { href: `#${path}`, 'aria-current': here === path ? 'page' : null }, t(key)),
    ),
  );
  document.querySelector('.skip').textContent = t('skip');
  document.title = t('app.name');
}

/** Each route() call's number, and the last one whose page finished drawing. */
let routed = 0;
let drawn = 0;

async function route() {
  const mine = ++routed;
  if (leave) {
    try { leave(); } catch { /* a page's cleanup must not block the next */ }
    leave = null;
  }
  const path = location.hash.slice(1) || '/';
  const who = current();
  const main = document.getElementById('main');
  header();
  if (path === '/') return go(who ? (HOMES[who.role]?.[0]?.[0] ?? '/signin') : '/signin');
  const found = match(path);
  if (!found) return go('/');
  if (found.role && (!who || who.role !== found.role)) return go(who ? '/' : '/signin');
  mount(main, h('p', { class: 'loading' }, t('loading')));
  const page = await import(found.module);
  if (mine !== routed) return;
  header();
  const cleanup = await page.render(main, found.params);
  if (mine !== routed) {
    // The user (or a refused token) moved on while this page loaded: close its streams and
    // timers; if the newer page has already drawn, this one drew over it, so draw it again.
    try { if (typeof cleanup === 'function') cleanup(); } catch { /* as above */ }
    if (drawn === routed) route();
    return;
  }
  leave = typeof cleanup === 'function' ? cleanup : null;
  drawn = mine;
  main.focus({ preventScroll: true });
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'ko' ? 'en' : 'ko');
  route();
});
document.getElementById('signout').addEventListener('click', () => {
  signOut();
  go('/signin');
});
window.addEventListener('hashchange', route);
document.documentElement.lang = lang();
route();
