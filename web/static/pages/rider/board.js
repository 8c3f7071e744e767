// Rider: the deliveries waiting nearby, nearest first (GET /v1/rider/deliveries and its live
// stream), and the rider's own deliveries (claim, release, pickup, deliver). Where the rider
// is comes from the browser's geolocation or, where that is refused or unavailable, from a
// district the rider picks (its centre: the middle of its stores).
//
// Every claim, pickup and deliver is judged by the server from the rider's last reported
// position, so the page reports it (POST /v1/rider/location) right before each action and,
// while the rider carries a delivery, every REPORT_EVERY_MS: far under the location-report
// limit (BAEDAL_RATE_LOCATION_REPORTS, 5 per 5 s per rider by default) and well inside the
// freshness a claim needs (BAEDAL_RIDER_POSITION_FRESH, 2 min). The report's answer lists the
// rider's current deliveries; GET /v1/rider/deliveries/{id} gives each one's address.

import { h, mount, announce, field, section } from '../../lib/dom.js';
import { t, words, won, clock, status, region, REGIONS } from '../../lib/i18n.js';
import { get, post, follow, ApiError } from '../../lib/api.js';
import { liveMap, distanceKm } from '../../lib/map.js';

words({
  ko: {
    'rider.title': '배달',
    'rider.where': '내 위치',
    'rider.source': '위치 기준',
    'rider.gps': '현재 위치 (GPS)',
    'rider.radius': '찾는 반경',
    'rider.km': '{km} km',
    'rider.locating': '위치를 확인하는 중…',
    'rider.at_gps': 'GPS 위치 {lat}, {lon}',
    'rider.at_district': '{district} 중심 {lat}, {lon}',
    'rider.reported': '마지막 위치 보고 {time}',
    'rider.gps_denied': '위치 권한이 없어 지역을 골라 주변 배달을 찾습니다. 픽업과 배달 완료는 실제 위치로 확인하므로 위치 권한이 필요합니다.',
    'rider.gps_unavailable': '현재 위치를 알 수 없어 지역을 골라 주변 배달을 찾습니다.',
    'rider.mine': '내 배달',
    'rider.mine_none': '진행 중인 배달이 없습니다.',
    'rider.nearby': '주변 배달 (가까운 순)',
    'rider.nearby_none': '근처에 픽업을 기다리는 배달이 없습니다.',
    'rider.distance': '가게까지 {km} km',
    'rider.to_region': '배달 지역: {region}',
    'rider.ready_at': '{time} 준비 완료',
    'rider.pickup_at': '픽업: {store}',
    'rider.door': '배달지: {address}',
    'rider.claim': '배달 잡기',
    'rider.release': '배달 포기',
    'rider.pickup': '픽업 완료',
    'rider.deliver': '배달 완료',
    'rider.delivery': '{store} 배달',
    'rider.map': '배달 지도',
    'rider.new': '새 배달: {store}, {km} km',
    'rider.claimed': '배달을 맡았습니다. {store}(으)로 가세요.',
    'rider.released': '배달을 내려놓았습니다. 다른 배달원이 맡을 수 있습니다.',
    'rider.picked': '픽업했습니다. 배달지로 가세요.',
    'rider.delivered': '배달을 완료했습니다.',
    'rider.gone': '배달 {id}이(가) 더 이상 배정되어 있지 않습니다.',
    'rider.err.too_far': '가게에서 너무 멉니다. 가게 가까이에서 다시 시도하세요.',
    'rider.err.rider_position_unknown': '최근 위치가 없습니다. 위치를 확인한 뒤 다시 시도하세요.',
    'rider.err.rider_too_many_active': '동시에 맡을 수 있는 배달 수를 넘었습니다. 진행 중인 배달을 먼저 끝내세요.',
    'rider.err.rider_not_at_store': '아직 가게에 도착하지 않았습니다. 가게 앞에서 픽업 완료를 누르세요.',
    'rider.err.rider_not_at_door': '아직 배달지에 도착하지 않았습니다. 배달지 앞에서 배달 완료를 누르세요.',
    'rider.err.implausible_speed': '위치가 너무 빨리 바뀌어 받아들여지지 않았습니다. 잠시 후 다시 시도하세요.',
    'rider.err.already_claimed': '다른 배달원이 먼저 맡았습니다.',
    'rider.err.invalid_transition': '이미 상태가 바뀐 배달입니다.',
    'rider.err.no_position': '위치를 아직 모릅니다. 위치 권한을 허용하거나 지역을 고르세요.',
  },
  en: {
    'rider.title': 'Deliveries',
    'rider.where': 'Where I am',
    'rider.source': 'Position from',
    'rider.gps': 'My location (GPS)',
    'rider.radius': 'Search radius',
    'rider.km': '{km} km',
    'rider.locating': 'Finding your location…',
    'rider.at_gps': 'GPS position {lat}, {lon}',
    'rider.at_district': 'centre of {district} {lat}, {lon}',
    'rider.reported': 'position last reported {time}',
    'rider.gps_denied': 'Location access is off, so pick a district to find deliveries. Pickup and delivery are checked against your real position: they need location access.',
    'rider.gps_unavailable': 'Your location is not available, so pick a district to find deliveries.',
    'rider.mine': 'My deliveries',
    'rider.mine_none': 'No delivery in progress.',
    'rider.nearby': 'Nearby deliveries (nearest first)',
    'rider.nearby_none': 'No delivery is waiting for a rider nearby.',
    'rider.distance': '{km} km to the store',
    'rider.to_region': 'Goes to {region}',
    'rider.ready_at': 'ready at {time}',
    'rider.pickup_at': 'Pick up at {store}',
    'rider.door': 'Deliver to {address}',
    'rider.claim': 'Take this delivery',
    'rider.release': 'Give it back',
    'rider.pickup': 'Picked up',
    'rider.deliver': 'Delivered',
    'rider.delivery': 'Delivery from {store}',
    'rider.map': 'Delivery map',
    'rider.new': 'New delivery: {store}, {km} km',
    'rider.claimed': 'The delivery is yours. Head to {store}.',
    'rider.released': 'You gave the delivery back; another rider can take it.',
    'rider.picked': 'Picked up. Head to the delivery point.',
    'rider.delivered': 'Delivered. Thank you!',
    'rider.gone': 'Delivery {id} is no longer assigned to you.',
    'rider.err.too_far': 'You are too far from the store. Try again closer to it.',
    'rider.err.rider_position_unknown': 'No recent position. Check your location and try again.',
    'rider.err.rider_too_many_active': 'You carry as many deliveries as allowed. Finish one first.',
    'rider.err.rider_not_at_store': 'You are not at the store yet. Press "Picked up" at the store.',
    'rider.err.rider_not_at_door': 'You are not at the delivery point yet. Press "Delivered" at the door.',
    'rider.err.implausible_speed': 'Your position changed faster than a ride allows and was not accepted. Try again in a moment.',
    'rider.err.already_claimed': 'Another rider took it first.',
    'rider.err.invalid_transition': 'This delivery has already changed.',
    'rider.err.no_position': 'Your position is not known yet. Allow location access or pick a district.',
  },
});

/** How often a rider carrying a delivery reports where they are (limit: 5 per 5 s). */
export const REPORT_EVERY_MS = 5_000;
const RADII = [1, 2, 3, 5, 10, 20];
const REGION_KEY = 'baedal.rider.region';
const RADIUS_KEY = 'baedal.rider.radius';
/** The board is asked again when the rider has moved this far from where it was asked. */
const BOARD_MOVE_KM = 0.3;
const CARRYING = new Set(['rider_assigned', 'picked_up']);

const shortId = (id) => id.replace(/^ord_/, '').slice(0, 8);
const fixed = (n) => Number(n).toFixed(4);

/** What to tell the rider about a refusal. */
function message(err) {
  if (!(err instanceof ApiError)) return String(err);
  const key = `rider.err.${err.code}`;
  const text = t(key);
  return text === key ? err.userMessage : text;
}

/** The middle of a district's stores, as its centre. */
const centres = new Map();
async function centreOf(district) {
  if (!centres.has(district)) {
    const { stores } = await get(`/v1/stores?region=${encodeURIComponent(district)}`);
    if (!stores.length) throw new Error(t('rider.err.no_position'));
    centres.set(district, {
      lat: stores.reduce((a, st) => a + st.lat, 0) / stores.length,
      lon: stores.reduce((a, st) => a + st.lon, 0) / stores.length,
    });
  }
  return centres.get(district);
}

export async function render(main) {
  let closed = false;
  /** `{lat, lon, source: 'gps'|'district', district?}` or null. */
  let pos = null;
  let gps = null;
  let gpsDenied = false;
  /** The district was picked for the rider (no position yet), not by them: GPS may take over. */
  let autoFell = false;
  let mode = 'gps';
  let radius = RADII.includes(Number(localStorage.getItem(RADIUS_KEY))) ? Number(localStorage.getItem(RADIUS_KEY)) : 5;
  let lastReport = null;
  /** board: id → card; mine: id → delivery view (with its card elements). */
  const board = new Map();
  const mine = new Map();
  let boardAt = null;
  let stream = null;

  const liveState = h('p', { class: 'live-state', 'data-state': 'connecting', role: 'status' });
  const source = h('select', { name: 'source' },
    h('option', { value: 'gps' }, t('rider.gps')),
    REGIONS.map((r) => h('option', { value: r }, region(r))));
  const radiusSel = h('select', { name: 'radius' }, RADII.map((km) => h('option', { value: km, selected: km === radius }, t('rider.km', { km }))));
  const whereText = h('p', { class: 'where', role: 'status' }, t('rider.locating'));
  const gpsNote = h('p', { class: 'gps-note' });
  const whereError = h('p', { class: 'error', role: 'alert' });
  const news = h('p', { class: 'ok rider-news', role: 'status' });
  const mineList = h('ul', { class: 'plain stack mine-list' });
  const boardList = h('ul', { class: 'plain stack board-list' });
  const boardError = h('p', { class: 'error', role: 'alert' });

  mount(main,
    h('div', { class: 'spread' }, h('h1', {}, t('rider.title')), liveState),
    section(t('rider.where'),
      h('div', { class: 'grid' }, field(t('rider.source'), source), field(t('rider.radius'), radiusSel)),
      gpsNote, whereText, whereError),
    news,
    section(t('rider.mine'), mineList),
    section(t('rider.nearby'), boardError, boardList));

  const showWhere = () => {
    if (!pos) {
      whereText.textContent = t('rider.locating');
      return;
    }
    const at = pos.source === 'gps'
      ? t('rider.at_gps', { lat: fixed(pos.lat), lon: fixed(pos.lon) })
      : t('rider.at_district', { district: region(pos.district), lat: fixed(pos.lat), lon: fixed(pos.lon) });
    whereText.textContent = lastReport ? `${at} · ${t('rider.reported', { time: clock(lastReport) })}` : at;
  };

  const showGpsNote = (key) => {
    gpsNote.textContent = key ? t(key) : '';
    gpsNote.classList.toggle('notice', !!key);
  };

  // ---- reporting where the rider is (one at a time: two at once are refused) ----
  let chain = Promise.resolve();
  let reportedAt = 0;
  function report() {
    const run = chain.then(async () => {
      if (!pos) throw new ApiError(409, 'no_position', t('rider.err.no_position'), null);
      const here = { lat: pos.lat, lon: pos.lon };
      const res = await post('/v1/rider/location', here);
      reportedAt = Date.now();
      lastReport = res.at ?? new Date().toISOString();
      whereError.textContent = '';
      showWhere();
      await syncMine(res.deliveries ?? []);
      return res;
    });
    chain = run.catch(() => {});
    return run;
  }

  /** Report, answering a refusal near the position line; false when the position was refused. */
  async function reportQuietly() {
    try {
      await report();
      return true;
    } catch (err) {
      if (closed) return false;
      // A report refused for pace still leaves the last one standing.
      if (err instanceof ApiError && ['rate_limited', 'concurrent_report'].includes(err.code)) return true;
      whereError.textContent = message(err);
      return false;
    }
  }

  // ---- the rider's own deliveries ----
  async function syncMine(list) {
    const listed = new Map(list.map((d) => [d.id, d.status]));
    for (const [id, st] of listed) {
      if (mine.get(id)?.view.status === st) continue;
      try {
        const view = await get(`/v1/rider/deliveries/${encodeURIComponent(id)}`);
        keep(view);
      } catch { /* shown on the next report */ }
    }
    for (const id of [...mine.keys()]) {
      if (!listed.has(id)) {
        mine.delete(id);
        news.textContent = t('rider.gone', { id: shortId(id) });
      }
    }
    drawMine();
  }

  function keep(view) {
    if (!CARRYING.has(view.status)) {
      mine.delete(view.id);
      return;
    }
    const had = mine.get(view.id);
    if (had) {
      had.view = view;
      had.memo = null;
    } else {
      mine.set(view.id, { view, memo: null, li: null, error: h('p', { class: 'error', role: 'alert' }), map: liveMap(t('rider.map')), busy: false });
    }
  }

  function mineCard(entry) {
    const v = entry.view;
    const memo = `${v.status}|${v.updated_at}|${entry.busy}`;
    entry.map.update({
      store: v.pickup,
      destination: v.delivery ? { lat: v.delivery.lat, lon: v.delivery.lon } : null,
      rider: pos ? { lat: pos.lat, lon: pos.lon } : null,
    });
    if (entry.memo === memo && entry.li) return entry.li;
    entry.memo = memo;
    const headingId = `mine-${v.id}`;
    const act = (label, action, cls) => h('button', {
      type: 'button', class: cls, disabled: entry.busy,
      onclick: () => command(v.id, action, entry.error),
    }, label);
    const buttons = v.status === 'rider_assigned'
      ? [act(t('rider.pickup'), 'pickup', 'primary'), act(t('rider.release'), 'release', 'danger')]
      : [act(t('rider.deliver'), 'deliver', 'primary')];
    const li = entry.li ?? h('li', { class: 'card stack my-delivery', 'data-delivery-id': v.id, tabindex: '-1' });
    li.setAttribute('aria-labelledby', headingId);
    mount(li,
      h('div', { class: 'spread' },
        h('h3', { id: headingId }, t('rider.delivery', { store: v.pickup.store_name })),
        h('span', { class: 'badge' }, status(v.status))),
      h('p', {}, t('rider.pickup_at', { store: v.pickup.store_name })),
      v.delivery ? h('p', { class: 'door' }, h('strong', {}, t('rider.door', { address: v.delivery.address }))) : null,
      h('p', { class: 'spread muted' }, h('span', {}, t('rider.to_region', { region: region(v.region) })), h('span', { class: 'price' }, won(v.total))),
      entry.map.el,
      h('div', { class: 'row' }, buttons),
      entry.error);
    entry.li = li;
    return li;
  }

  const mineEmpty = h('li', { class: 'muted' }, t('rider.mine_none'));
  function drawMine() {
    const focused = document.activeElement;
    const want = mine.size ? [...mine.values()].map(mineCard) : [mineEmpty];
    const have = [...mineList.children];
    if (want.length !== have.length || want.some((li, i) => li !== have[i])) mount(mineList, want);
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
  }

  async function command(id, action, errorEl) {
    const entry = mine.get(id);
    errorEl.textContent = '';
    news.textContent = '';
    if (entry) { entry.busy = true; drawMine(); }
    try {
      if (!(await reportQuietly())) {
        errorEl.textContent = whereError.textContent;
        return;
      }
      const view = await post(`/v1/rider/deliveries/${encodeURIComponent(id)}/${action}`, {});
      const said = {
        claim: t('rider.claimed', { store: view.pickup.store_name }),
        release: t('rider.released'),
        pickup: t('rider.picked'),
        deliver: t('rider.delivered'),
      }[action];
      keep(view);
      if (action === 'claim' || action === 'release') {
        board.delete(id);
        if (action === 'release' && view.status === 'ready_for_pickup') board.set(id, { ...view, fresh: false });
        drawBoard();
      }
      news.textContent = said; // a status region: read out once
    } catch (err) {
      errorEl.textContent = message(err);
    } finally {
      const still = mine.get(id);
      if (still) { still.busy = false; still.memo = null; }
      drawMine();
      const card = mine.get(id)?.li;
      if (card?.isConnected && (action === 'claim' || action === 'pickup')) (card.querySelector('button') ?? card).focus({ preventScroll: true });
    }
  }

  // ---- the board of deliveries nearby ----
  const boardCards = new Map();
  const boardEmpty = h('li', { class: 'muted' }, t('rider.nearby_none'));
  function boardCard(card) {
    let c = boardCards.get(card.id);
    const km = pos ? distanceKm(pos, card.pickup) : card.distance_km;
    const memo = `${card.updated_at}|${km.toFixed(1)}|${c?.busy}`;
    if (c && c.memo === memo) return c.li;
    if (!c) {
      c = { li: h('li', { class: 'card delivery-card', 'data-delivery-id': card.id }), error: h('p', { class: 'error', role: 'alert' }), busy: false };
      boardCards.set(card.id, c);
    }
    c.memo = memo;
    const headingId = `card-${card.id}`;
    c.li.setAttribute('aria-labelledby', headingId);
    mount(c.li,
      h('div', { class: 'spread' },
        h('h3', { id: headingId }, card.pickup.store_name),
        h('strong', { class: 'distance' }, t('rider.distance', { km: km.toFixed(1) }))),
      h('p', { class: 'spread muted' },
        h('span', {}, t('rider.to_region', { region: region(card.region) }), ' · ', t('rider.ready_at', { time: clock(card.updated_at) })),
        h('span', { class: 'price' }, won(card.total))),
      h('button', {
        type: 'button', class: 'primary', disabled: c.busy,
        onclick: async () => {
          c.busy = true;
          drawBoard();
          await command(card.id, 'claim', c.error);
          c.busy = false;
          c.memo = null;
          drawBoard();
        },
      }, t('rider.claim'), h('span', { class: 'sr-only' }, ` ${card.pickup.store_name}`)),
      c.error);
    return c.li;
  }

  function drawBoard() {
    const focused = document.activeElement;
    const cards = [...board.values()]
      .map((c) => ({ c, km: pos ? distanceKm(pos, c.pickup) : c.distance_km }))
      .sort((a, b) => a.km - b.km)
      .map(({ c }) => c);
    const want = cards.length ? cards.map(boardCard) : [boardEmpty];
    const have = [...boardList.children];
    if (want.length !== have.length || want.some((li, i) => li !== have[i])) mount(boardList, want);
    for (const c of cards) {
      if (!c.fresh) continue;
      c.fresh = false;
      const li = boardCards.get(c.id)?.li;
      if (li) {
        li.classList.add('flash');
        li.addEventListener('animationend', () => li.classList.remove('flash'), { once: true });
      }
    }
    for (const id of [...boardCards.keys()]) if (!board.has(id)) boardCards.delete(id);
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
  }

  /** (Re)open the board where the rider is now. */
  async function openBoard() {
    if (!pos || closed) return;
    stream?.close();
    boardAt = { lat: pos.lat, lon: pos.lon, radius };
    const q = `lat=${pos.lat}&lon=${pos.lon}&radius_km=${radius}`;
    const gone = new Set();
    let loaded = false;
    const early = [];
    const onEvent = (type, data, live) => {
      if (type === 'reset') {
        board.clear();
        for (const c of data.deliveries ?? []) board.set(c.id, { ...c, fresh: false });
      } else if (type === 'ready_for_pickup' && data?.id) {
        if (!board.has(data.id) && live && !mine.has(data.id)) {
          data.fresh = true;
          announce(t('rider.new', { store: data.pickup.store_name, km: Number(data.distance_km).toFixed(1) }));
        }
        gone.delete(data.id);
        if (!mine.has(data.id)) board.set(data.id, data);
      } else if (data?.id) {
        gone.add(data.id);
        board.delete(data.id);
      }
      drawBoard();
    };
    const mineStream = follow(`/v1/rider/deliveries/events?${q}`, (type, data) => {
      if (!loaded) early.push([type, data]);
      else onEvent(type, data, true);
    }, (state, err) => {
      liveState.dataset.state = state;
      liveState.textContent = state === 'live' ? t('live.on') : state === 'ended' ? (err?.userMessage ?? t('live.ended')) : t('live.reconnecting');
    });
    stream = mineStream;
    try {
      const { deliveries } = await get(`/v1/rider/deliveries?${q}`);
      if (stream !== mineStream) return;
      board.clear();
      for (const c of deliveries) if (!gone.has(c.id) && !mine.has(c.id)) board.set(c.id, { ...c, fresh: false });
      boardError.textContent = '';
    } catch (err) {
      boardError.textContent = message(err);
    }
    loaded = true;
    for (const [type, data] of early.splice(0)) onEvent(type, data, true);
    drawBoard();
  }

  /** A new position: show it, and ask the board again if the rider moved far enough. */
  function moved(next) {
    const first = !pos;
    pos = next;
    showWhere();
    drawMine();
    drawBoard();
    if (!boardAt || boardAt.radius !== radius || distanceKm(boardAt, pos) > BOARD_MOVE_KM) openBoard();
    if (first) reportQuietly();
  }

  async function useDistrict(district, reportIt) {
    mode = district;
    source.value = district;
    localStorage.setItem(REGION_KEY, district);
    try {
      const c = await centreOf(district);
      if (mode !== district || closed) return;
      moved({ ...c, source: 'district', district });
      if (reportIt) reportQuietly();
    } catch (err) {
      whereError.textContent = message(err);
    }
  }

  function fallBack(key) {
    showGpsNote(key);
    if (mode !== 'gps') return;
    autoFell = true;
    const saved = localStorage.getItem(REGION_KEY);
    useDistrict(REGIONS.includes(saved) ? saved : REGIONS[0], false);
  }

  source.addEventListener('change', () => {
    whereError.textContent = '';
    autoFell = false;
    if (source.value === 'gps') {
      mode = 'gps';
      if (gps) moved({ ...gps, source: 'gps' });
      else { pos = null; showWhere(); }
    } else {
      useDistrict(source.value, true);
    }
  });
  radiusSel.addEventListener('change', () => {
    radius = Number(radiusSel.value);
    localStorage.setItem(RADIUS_KEY, String(radius));
    openBoard();
  });

  // ---- the browser's position ----
  let watch = null;
  let gpsWait = null;
  if ('geolocation' in navigator) {
    gpsWait = setTimeout(() => { if (!gps && !gpsDenied) fallBack('rider.gps_unavailable'); }, 8_000);
    watch = navigator.geolocation.watchPosition((p) => {
      gps = { lat: p.coords.latitude, lon: p.coords.longitude };
      if (gpsDenied) return;
      if (mode === 'gps' || autoFell) {
        autoFell = false;
        mode = 'gps';
        source.value = 'gps';
        showGpsNote(null);
        moved({ ...gps, source: 'gps' });
      }
    }, (e) => {
      if (e.code === e.PERMISSION_DENIED) {
        gpsDenied = true;
        source.querySelector('option[value="gps"]').disabled = true;
        fallBack('rider.gps_denied');
      } else if (!gps) {
        fallBack('rider.gps_unavailable');
      }
    }, { enableHighAccuracy: true, maximumAge: 5_000, timeout: 15_000 });
  } else {
    source.querySelector('option[value="gps"]').disabled = true;
    fallBack('rider.gps_unavailable');
  }

  // While the rider carries a delivery, keep the server (and the customer's ETA) told.
  const ticker = setInterval(() => {
    if (mode === 'gps' && pos && mine.size && Date.now() - reportedAt >= REPORT_EVERY_MS - 500) reportQuietly();
  }, REPORT_EVERY_MS);

  drawMine();
  drawBoard();
  return () => {
    closed = true;
    stream?.close();
    clearInterval(ticker);
    clearTimeout(gpsWait);
    if (watch != null) navigator.geolocation.clearWatch(watch);
  };
}
