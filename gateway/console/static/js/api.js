// The gateway's public API, called with the client key from sessionStorage (X-API-Key header).
// The key never goes into a URL, a query string or the console.

const KEY_SLOT = "bg-gateway.client-key";

export function clientKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

export function setClientKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  else sessionStorage.removeItem(KEY_SLOT);
}

/** A failed call: the RFC 9457 problem the gateway answered, or a network failure. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headersWith(extra) {
  const headers = new Headers(extra || {});
  const key = clientKey();
  if (key) headers.set("X-API-Key", key);
  return headers;
}

async function problemOf(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { title: response.statusText || `HTTP ${response.status}`, detail: text.slice(0, 300) };
  }
}

/** fetch() a gateway path; a non-2xx answer throws ApiError with the parsed problem. */
export async function call(path, { method = "GET", body, headers, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method, body, signal, headers: headersWith(headers),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { title: "The gateway did not answer", detail: String(err.message) });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

/** GET a JSON document. */
export async function getJSON(path, options) {
  return (await call(path, options)).json();
}

/** POST multipart form data; `fields` maps names to strings, Blobs or Files. */
export function postForm(path, fields, headers) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === "") continue;
    form.append(name, value);
  }
  return call(path, { method: "POST", body: form, headers });
}

/** POST a JSON body. */
export function postJSON(path, data, headers) {
  return call(path, {
    method: "POST", body: JSON.stringify(data),
    headers: { "Content-Type": "application/json", ...(headers || {}) },
  });
}
