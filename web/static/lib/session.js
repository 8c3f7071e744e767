// Who is signed in: the bearer token (a dev token, or one pasted from the identity provider)
// and the claims the pages need to pick a screen. The token is kept in this browser's
// localStorage; the server checks it on every call, the page only reads it.

const KEY = 'baedal.token';

function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      atob(part).split('').map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** `{token, role, sub, store_id?, exp}` of the signed-in user, or null (none, or expired). */
export function current() {
  const token = localStorage.getItem(KEY);
  if (!token) return null;
  const claims = claimsOf(token);
  if (!claims || !claims.role || (claims.exp && claims.exp * 1000 < Date.now())) {
    localStorage.removeItem(KEY);
    return null;
  }
  return { token, ...claims };
}

/** Keep `token`; null if it is not a token the pages can read. */
export function signIn(token) {
  const trimmed = token.trim().replace(/^Bearer\s+/i, '');
  const claims = claimsOf(trimmed);
  if (!claims || !claims.role) return null;
  localStorage.setItem(KEY, trimmed);
  return current();
}

export function signOut() {
  localStorage.removeItem(KEY);
}

/** The page's settings, from the <meta> tags the server filled in. */
export function setting(name) {
  return document.querySelector(`meta[name="baedal-${name}"]`)?.content ?? '';
}
