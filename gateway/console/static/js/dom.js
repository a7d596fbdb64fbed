// Tiny DOM helpers: build elements without innerHTML (nothing from a response is parsed as HTML).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A <dl> of [label, text] rows. */
export function factList(rows) {
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }),
    el("dd", { text: v })]));
}

/** A table: `columns` are [header, row -> cell text or Node]. */
export function table(columns, rows, attrs = {}) {
  return el("table", attrs,
    el("thead", {}, el("tr", {}, columns.map(([h]) => el("th", { text: h })))),
    el("tbody", {}, rows.map((row) => el("tr", row.__attrs || {},
      columns.map(([, cell]) => el("td", {}, cell(row)))))));
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** A number with `digits` significant digits (integers as they are), else the text. */
export function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 10 ** digits ? value.toFixed(0) : String(Number(value.toPrecision(digits)));
}
