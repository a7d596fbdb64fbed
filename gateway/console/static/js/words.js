// The gateway's answer headers and problems in plain words.

/** `provider;dur=12.3, postprocess;dur=4.5` -> {provider: 12.3, postprocess: 4.5}. */
export function parseServerTiming(value) {
  const timing = {};
  for (const part of (value || "").split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (!name) continue;
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith("dur="));
    timing[name.trim()] = dur ? Number(dur.slice(4)) : null;
  }
  return timing;
}

/** `withoutbg=rate_limited, local=ok` -> [{provider, outcome}]. */
export function parseAttempts(value) {
  return (value || "").split(",").map((item) => item.trim()).filter(Boolean).map((item) => {
    const [provider, outcome = ""] = item.split("=");
    return { provider, outcome };
  });
}

export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function plainOutcome(outcome) {
  return (outcome || "").replaceAll("_", " ");
}

const KNOWN = new Set([
  "x-request-id", "x-provider", "x-attempts", "x-emulated", "x-cost", "x-width", "x-height",
  "server-timing",
]);

/** [label, text] pairs describing a successful removal's headers. */
export function describeAnswer(headers) {
  const attempts = parseAttempts(headers.get("x-attempts"));
  const emulated = (headers.get("x-emulated") || "").split(",").map((s) => s.trim())
    .filter(Boolean);
  const timing = parseServerTiming(headers.get("server-timing"));
  const rows = [
    ["Answered by", headers.get("x-provider") || "–"],
    ["Attempts", attempts.length
      ? attempts.map((a) => `${a.provider}: ${plainOutcome(a.outcome)}`).join(" → ")
      : "–"],
    ["Done by the gateway", emulated.length ? emulated.join(", ") : "nothing (all native)"],
    ["Cost", headers.get("x-cost") ?? "–"],
    ["Size", `${headers.get("x-width") || "?"} × ${headers.get("x-height") || "?"} px`],
    ["Time", Object.keys(timing).length
      ? Object.entries(timing).map(([name, dur]) => `${name} ${ms(dur)}`).join(", ")
      : "–"],
    ["Request id", headers.get("x-request-id") || "–"],
  ];
  // Headers this console does not know yet (new gateway features) are shown as they are.
  for (const [name, value] of headers.entries()) {
    if (name.startsWith("x-") && !KNOWN.has(name) && !name.startsWith("x-ratelimit")) {
      rows.push([name, value]);
    }
  }
  return rows;
}

/** A problem document (or network error) as one readable sentence. */
export function describeProblem(err) {
  const p = err.problem || { title: String(err.message || err) };
  const parts = [p.title || "Failed"];
  if (p.detail && p.detail !== p.title) parts.push(p.detail);
  if (p.code) parts.push(`(code ${p.code}${err.status ? `, HTTP ${err.status}` : ""})`);
  if (Array.isArray(p.attempts) && p.attempts.length) {
    parts.push("Attempts: " + p.attempts.map((a) => typeof a === "string" ? a
      : `${a.provider}: ${plainOutcome(a.outcome || a.reason || "")}`).join(" → "));
  }
  return parts.join(" — ");
}
