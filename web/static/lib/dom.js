// Building the page: elements are made with `h`, never from HTML strings, so nothing the API
// returns (a store name, a reject reason) can become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: `h('button', {class: 'primary', onclick}, '주문')`. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element (the map). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace what `root` shows. */
export function mount(root, ...nodes) {
  root.replaceChildren(...nodes.flat(Infinity).filter((n) => n != null && n !== false));
}

/** Say `text` to screen readers (the page's polite live region). */
export function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

/** A labelled form field: the label is tied to the control for screen readers and clicks. */
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A region of the page with a heading, for landmarks and the heading outline. */
export function section(title, ...children) {
  const id = `s${++fieldSeq}`;
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
