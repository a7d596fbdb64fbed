// The Providers page: live state from /v1/providers, spend, credits, usage and experiments.
import { getJSON } from "./api.js";
import { $, el, fmt, table } from "./dom.js";
import { describeProblem, ms } from "./words.js";

const money = (value) => (typeof value === "number" ? value.toFixed(2) : "–");

function spend(p) {
  if (p.budget === null || p.budget === undefined) return `${money(p.spend)} (no budget)`;
  const share = p.budget > 0 ? Math.min(1, p.spend / p.budget) : 1;
  const bar = el("meter", { min: "0", max: "1", low: "0.7", high: "0.9", optimum: "0",
    value: share.toFixed(3), title: `${Math.round(share * 100)}% of the budget` });
  return el("span", {}, bar, ` ${money(p.spend)} / ${money(p.budget)}`);
}

function health(value) {
  if (value === true) return el("span", { class: "ok", text: "healthy" });
  if (value === false) return el("span", { class: "bad", text: "failing" });
  return el("span", { class: "muted", text: "no health check" });
}

const COLUMNS = [
  ["Provider", (p) => el("span", {}, el("strong", { text: p.name }), el("small", { text: ` ${p.type}` }))],
  ["Enabled", (p) => p.enabled ? "yes" : `no${p.disabled_reason ? ` — ${p.disabled_reason}` : ""}`],
  ["Circuit", (p) => el("span", { class: `circuit ${p.circuit}`, "data-testid": "circuit",
    text: p.circuit.replace("_", " ") })],
  ["Cooldown", (p) => p.cooldown_s > 0 ? `${Math.ceil(p.cooldown_s)} s` : "–"],
  ["Headroom", (p) => p.rate_limit ? `${fmt(p.headroom)} left of ${p.rate_limit}` : "unlimited"],
  ["Latency", (p) => ms(p.latency_ewma_ms)],
  ["Cost", (p) => fmt(p.cost)],
  ["Spend vs budget", spend],
  ["Health", (p) => health(p.health)],
  ["Engine", (p) => p.engine ? Object.values(p.engine).filter((v) => typeof v !== "object")
    .join(" · ") : ""],
];

/** Any value in words: objects as `key value · …`, lists joined with `; `. */
function describe(value) {
  if (Array.isArray(value)) return value.length ? value.map(describe).join("; ") : "–";
  if (value !== null && typeof value === "object") {
    return Object.entries(value).filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k.replaceAll("_", " ")} ${describe(v)}`).join(" · ");
  }
  return fmt(value);
}

/** A table of any list of records (experiment variants, usage rows): columns from the keys,
 * so fields the gateway adds later show up without a change here. */
function recordTable(rows, attrs = {}) {
  if (!rows.length) return el("p", { class: "hint", text: "Nothing yet." });
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return table(keys.map((k) => [k.replaceAll("_", " "), (r) => describe(r[k])]), rows,
    { class: "grid-table", ...attrs });
}

export function setupProviders(root, { onProviders, needKey }) {
  const body = $(".prov-table", root);
  const stamp = $(".stamp", root);
  const every = $("#prov-every", root);
  let timer = null;
  let slow = 0;

  async function refresh() {
    try {
      const { providers } = await getJSON("/v1/providers");
      onProviders(providers);
      body.replaceChildren(table(COLUMNS, providers.map((p) => ({ ...p,
        __attrs: { "data-provider": p.name, "data-circuit": p.circuit } })),
      { "data-testid": "providers-table", class: "grid-table" }));
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
      stamp.classList.remove("bad");
    } catch (err) {
      stamp.textContent = err.status === 401
        ? "This gateway needs a client key: enter it at the top right."
        : describeProblem(err);
      stamp.classList.add("bad");
      if (err.status === 401) needKey();
      return;
    }
    // Spend, credits and experiments change slowly: every fifth refresh.
    if (!root.hidden && slow++ % 5 === 0) await refreshSlow();
  }

  async function section(selector, load) {
    const target = $(selector, root);
    try {
      target.replaceChildren(await load());
    } catch (err) {
      target.replaceChildren(el("p", { class: "bad", text: describeProblem(err) }));
    }
  }

  async function refreshSlow() {
    await Promise.all([
      section(".prov-usage", async () => recordTable((await getJSON("/v1/usage")).usage || [],
        { "data-testid": "usage-table" })),
      section(".prov-credits", async () => {
        const credits = (await getJSON("/v1/credits")).credits || {};
        return recordTable(Object.entries(credits).map(([provider, left]) => ({
          provider, credits_left: left ?? "unknown" })));
      }),
      section(".prov-experiments", async () => {
        const { experiments } = await getJSON("/v1/experiments");
        const names = Object.keys(experiments || {});
        if (!names.length) return el("p", { class: "hint", text: "No experiment is configured." });
        const reports = await Promise.all(names.map((n) =>
          getJSON(`/v1/experiments/${encodeURIComponent(n)}`)));
        return el("div", {}, reports.map((r) => el("div", { class: "experiment" },
          el("h4", { text: `${r.experiment}${r.enabled ? "" : " (off)"}` }),
          recordTable(r.variants || [], { "data-experiment": r.experiment }))));
      }),
    ]);
  }

  function schedule() {
    clearInterval(timer);
    timer = setInterval(() => { if (!document.hidden) refresh(); }, Number(every.value) * 1000);
  }
  every.addEventListener("change", schedule);
  $("#prov-now", root).addEventListener("click", () => { slow = 0; refresh(); });
  schedule();
  return { refresh, shown: () => { slow = 0; refresh(); } };
}
