// Korean first, English on request. Each page module registers its own words with `words()`
// beside its code; the common ones (statuses, districts, errors) are here. The choice is kept
// in localStorage and set on <html lang>.

const KEY = 'baedal.lang';
const dictionaries = { ko: {}, en: {} };

/** Add `ko` and `en` words (each `{key: text}`; `{name}` in a text is filled by `t`). */
export function words({ ko, en }) {
  Object.assign(dictionaries.ko, ko);
  Object.assign(dictionaries.en, en);
}

export function lang() {
  const saved = localStorage.getItem(KEY);
  return saved === 'en' ? 'en' : 'ko';
}

export function setLang(value) {
  localStorage.setItem(KEY, value === 'en' ? 'en' : 'ko');
  document.documentElement.lang = lang();
}

/** The text for `key` in the chosen language (the key itself if neither has it). */
export function t(key, vars = {}) {
  const text = dictionaries[lang()][key] ?? dictionaries.ko[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** 12,000원 / ₩12,000 */
export function won(amount) {
  const n = Number(amount).toLocaleString('ko-KR');
  return lang() === 'ko' ? `${n}원` : `₩${n}`;
}

/** A time of day in the chosen language (the API's timestamps are RFC 3339 or epoch ms). */
export function clock(at) {
  const date = typeof at === 'number' ? new Date(at) : new Date(at);
  return date.toLocaleTimeString(lang() === 'ko' ? 'ko-KR' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

export const STATUSES = [
  'placed', 'accepted', 'cooking', 'ready_for_pickup', 'rider_assigned', 'picked_up',
  'delivered', 'completed', 'rejected', 'canceled', 'payment_failed',
];
/** Statuses no command leaves (docs/contract.md): the order's workflow has ended. */
export const TERMINAL = new Set(['completed', 'rejected', 'canceled', 'payment_failed']);

export const REGIONS = ['gangnam', 'mapo', 'jongno', 'songpa'];

export const status = (s) => t(`status.${s}`);
export const region = (r) => t(`region.${r}`);

words({
  ko: {
    'app.name': '배달',
    'lang.switch': 'English',
    'signout': '로그아웃',
    'skip': '본문으로 건너뛰기',
    'loading': '불러오는 중…',
    'retry': '다시 시도',
    'back': '뒤로',
    'live.on': '실시간 연결됨',
    'live.reconnecting': '다시 연결하는 중…',
    'live.ended': '실시간 연결이 끝났습니다. 다시 로그인하세요.',
    'status.placed': '주문 접수',
    'status.accepted': '주문 수락',
    'status.cooking': '조리 중',
    'status.ready_for_pickup': '픽업 대기',
    'status.rider_assigned': '배달원 배정',
    'status.picked_up': '배달 중',
    'status.delivered': '배달 완료',
    'status.completed': '주문 완료',
    'status.rejected': '주문 거절',
    'status.canceled': '주문 취소',
    'status.payment_failed': '결제 실패',
    'region.gangnam': '강남구',
    'region.mapo': '마포구',
    'region.jongno': '종로구',
    'region.songpa': '송파구',
    'role.customer': '고객',
    'role.store_owner': '사장님',
    'role.rider': '배달원',
    'role.ops': '운영',
    'nav.stores': '가게',
    'nav.orders': '주문 내역',
    'nav.settings': '알림 설정',
    'nav.board': '주문 현황',
    'nav.menu': '메뉴 관리',
    'nav.deliveries': '배달',
    'nav.ops': '운영 현황',
    'error.network': '서버에 연결할 수 없습니다. 잠시 후 다시 시도하세요.',
    'error.unauthorized': '로그인이 만료되었습니다. 다시 로그인하세요.',
    'error.retry_in': '{message} ({secs}초 후 다시 시도하세요)',
  },
  en: {
    'app.name': 'baedal',
    'lang.switch': '한국어',
    'signout': 'Sign out',
    'skip': 'Skip to content',
    'loading': 'Loading…',
    'retry': 'Try again',
    'back': 'Back',
    'live.on': 'Live',
    'live.reconnecting': 'Reconnecting…',
    'live.ended': 'The live connection ended. Sign in again.',
    'status.placed': 'Placed',
    'status.accepted': 'Accepted',
    'status.cooking': 'Cooking',
    'status.ready_for_pickup': 'Ready for pickup',
    'status.rider_assigned': 'Rider assigned',
    'status.picked_up': 'On the way',
    'status.delivered': 'Delivered',
    'status.completed': 'Completed',
    'status.rejected': 'Rejected',
    'status.canceled': 'Canceled',
    'status.payment_failed': 'Payment failed',
    'region.gangnam': 'Gangnam-gu',
    'region.mapo': 'Mapo-gu',
    'region.jongno': 'Jongno-gu',
    'region.songpa': 'Songpa-gu',
    'role.customer': 'Customer',
    'role.store_owner': 'Store owner',
    'role.rider': 'Rider',
    'role.ops': 'Ops',
    'nav.stores': 'Stores',
    'nav.orders': 'My orders',
    'nav.settings': 'Notifications',
    'nav.board': 'Orders',
    'nav.menu': 'Menu',
    'nav.deliveries': 'Deliveries',
    'nav.ops': 'Operations',
    'error.network': 'Cannot reach the server. Try again in a moment.',
    'error.unauthorized': 'Your sign-in has expired. Sign in again.',
    'error.retry_in': '{message} (try again in {secs} s)',
  },
});
