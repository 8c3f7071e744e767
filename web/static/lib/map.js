// A simple map drawn as SVG from latitude and longitude, with no tiles from anywhere: the
// store, the delivery point and the rider, on a light street grid with a scale bar. Used by
// the customer's order page and the rider's page.
//
//   const map = liveMap(t('order.map'));          // an <svg> that keeps its size
//   main.append(map.el);
//   map.update({ store: {lat, lon}, destination: {lat, lon}, rider: {lat, lon} | null });
//
// or `drawMap(points, title)` for a one-off <svg>. The drawing always fits every point given
// (at least ~1 km across), so a moving rider stays on the map; the <svg>'s box never changes
// size (a fixed viewBox and the `.map` aspect ratio), so nothing on the page moves.

import { s } from './dom.js';
import { t, words } from './i18n.js';

words({
  ko: {
    'map.store': '가게',
    'map.destination': '배달지',
    'map.rider': '배달원',
    'map.describe': '{parts}.',
    'map.distance': '{from}에서 {to}까지 약 {km} km',
    'map.no_rider': '배달원 위치는 아직 모릅니다',
  },
  en: {
    'map.store': 'Store',
    'map.destination': 'Delivery point',
    'map.rider': 'Rider',
    'map.describe': '{parts}.',
    'map.distance': 'about {km} km from {from} to {to}',
    'map.no_rider': 'the rider’s position is not known yet',
  },
});

const W = 400;
const H = 300;
const PAD = 36;
const MIN_SPAN_KM = 1;
const KM_PER_DEG_LAT = 111.32;

/** Great-circle distance in km (haversine). */
export function distanceKm(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(x)));
}

const known = (p) => p && Number.isFinite(Number(p.lat)) && Number.isFinite(Number(p.lon)) && !(p.lat === 0 && p.lon === 0);

/** A projection (equirectangular around the points' middle) fitting `points` into the box. */
function projection(points) {
  const lats = points.map((p) => Number(p.lat));
  const lons = points.map((p) => Number(p.lon));
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const midLon = (Math.min(...lons) + Math.max(...lons)) / 2;
  const kmPerDegLon = KM_PER_DEG_LAT * Math.cos((midLat * Math.PI) / 180);
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * kmPerDegLon, MIN_SPAN_KM);
  const spanY = Math.max((Math.max(...lats) - Math.min(...lats)) * KM_PER_DEG_LAT, MIN_SPAN_KM * (H / W));
  const pxPerKm = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
  return {
    pxPerKm,
    at: (p) => [
      W / 2 + (Number(p.lon) - midLon) * kmPerDegLon * pxPerKm,
      H / 2 - (Number(p.lat) - midLat) * KM_PER_DEG_LAT * pxPerKm,
    ],
  };
}

/** A scale bar of a round length (100 m, 200 m, 500 m, 1 km, 2 km, 5 km…). */
function scaleBar(pxPerKm) {
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];
  const km = steps.find((k) => k * pxPerKm >= 50) ?? steps[steps.length - 1];
  const len = km * pxPerKm;
  const x = 12;
  const y = H - 12;
  return s('g', { class: 'map-scale', 'aria-hidden': 'true' },
    s('path', { d: `M${x} ${y - 5}V${y}H${x + len}V${y - 5}`, fill: 'none', stroke: '#3c454d', 'stroke-width': 2 }),
    s('text', { x: x + len + 6, y, 'font-size': 12, fill: '#3c454d' }, km < 1 ? `${Math.round(km * 1000)} m` : `${km} km`));
}

/** The street grid: fixed lines in the box (decoration, not geography). */
function streets() {
  const lines = [];
  for (let x = 40; x < W; x += 80) lines.push(s('line', { x1: x, y1: 0, x2: x + 20, y2: H }));
  for (let y = 30; y < H; y += 70) lines.push(s('line', { x1: 0, y1: y, x2: W, y2: y - 12 }));
  return s('g', { stroke: '#fff', 'stroke-width': 6, 'aria-hidden': 'true' }, lines);
}

function pin(kind, [x, y], label) {
  const shapes = {
    // A store: a square with a roof; the delivery point: a drop pin; the rider: a round marker.
    store: [
      s('rect', { x: -11, y: -11, width: 22, height: 22, rx: 4, fill: '#00796b', stroke: '#fff', 'stroke-width': 2 }),
      s('path', { d: 'M-6 -1h12v6h-12z', fill: '#fff' }),
      s('path', { d: 'M-7 -2l7 -6l7 6z', fill: '#fff' }),
    ],
    destination: [
      s('path', { d: 'M0 12C-10 0 -11 -4 -11 -8a11 11 0 0 1 22 0c0 4 -1 8 -11 20z', transform: 'translate(0 -10)', fill: '#b3261e', stroke: '#fff', 'stroke-width': 2 }),
      s('circle', { cx: 0, cy: -18, r: 4, fill: '#fff' }),
    ],
    rider: [
      s('circle', { r: 14, fill: '#1a56db', 'fill-opacity': 0.18 }),
      s('circle', { r: 8, fill: '#1a56db', stroke: '#fff', 'stroke-width': 2.5 }),
    ],
  };
  // Labels: the rider's above its marker, the others' below (so a rider at the store does
  // not hide the store's name), flipped where the edge of the box would cut them.
  const up = kind === 'destination' ? -34 : -20;
  const down = kind === 'destination' ? 14 : 26;
  const above = kind === 'rider' ? y + up > 16 : y + down > H - 24;
  return s('g', { class: `map-pin map-${kind}`, transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`, 'aria-hidden': 'true' },
    shapes[kind],
    s('text', {
      y: above ? up : down,
      'text-anchor': 'middle', 'font-size': 13, 'font-weight': 700, fill: '#1d2327',
      stroke: '#fff', 'stroke-width': 3, 'paint-order': 'stroke',
    }, label));
}

/** What the map shows, in words (its accessible name). */
function describe({ store, destination, rider }) {
  const parts = [];
  if (known(store) && known(destination)) {
    parts.push(t('map.distance', { from: t('map.store'), to: t('map.destination'), km: distanceKm(store, destination).toFixed(1) }));
  }
  if (known(rider) && known(destination)) {
    parts.push(t('map.distance', { from: t('map.rider'), to: t('map.destination'), km: distanceKm(rider, destination).toFixed(1) }));
  } else if (rider !== undefined) {
    parts.push(t('map.no_rider'));
  }
  return parts.join('; ');
}

/** Draw `points` (`{store, destination, rider}`, each `{lat, lon}` or null) into `svg`. */
function paint(svg, points, title) {
  const present = ['store', 'destination', 'rider'].filter((k) => known(points[k]));
  const label = [title, describe(points)].filter(Boolean).join(': ');
  svg.setAttribute('aria-label', label);
  const layers = [s('rect', { width: W, height: H, fill: '#eef3f1' }), streets()];
  if (present.length) {
    const proj = projection(present.map((k) => points[k]));
    if (known(points.store) && known(points.destination)) {
      const [x1, y1] = proj.at(points.store);
      const [x2, y2] = proj.at(points.destination);
      layers.push(s('line', { x1, y1, x2, y2, stroke: '#55606a', 'stroke-width': 2, 'stroke-dasharray': '6 5', 'aria-hidden': 'true' }));
    }
    for (const kind of ['store', 'destination', 'rider']) {
      if (known(points[kind])) layers.push(pin(kind, proj.at(points[kind]), t(`map.${kind}`)));
    }
    layers.push(scaleBar(proj.pxPerKm));
  }
  svg.replaceChildren(...layers);
  return svg;
}

function frame(title) {
  return s('svg', { class: 'map', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMidYMid meet' });
}

/** A one-off map of `points` (`{store, destination, rider}`), titled `title`. */
export function drawMap(points, title = '') {
  return paint(frame(title), points, title);
}

/** A map to keep on the page and `update(points)` as positions arrive (same box throughout). */
export function liveMap(title = '') {
  const el = frame(title);
  let last = {};
  return {
    el,
    update(points) {
      last = { ...last, ...points };
      paint(el, last, title);
    },
  };
}
