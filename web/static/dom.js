// DOM building without markup strings. Every piece of text goes in through
// a text node, so nothing the API or the address bar holds can ever become
// markup: the app has no innerHTML anywhere.

let lastId = 0;

// nextId returns an id unique in this document, for label/aria links.
export function nextId(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

// h creates an element. props are attributes, except:
//   class   → className
//   text    → textContent
//   dataset → data-* attributes
//   onX     → addEventListener('x', fn) (functions only; never markup)
// true sets a boolean attribute, false/null/undefined leaves it out.
// children are nodes or strings (strings become text nodes); arrays are
// flattened and null/false children skipped.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.className = value;
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'style' || key.startsWith('on')) {
      // The page's CSP forbids inline style and inline handlers.
      throw new Error(`h: attribute ${key} is not allowed`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// append adds children (nodes or strings) to el.
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
