// The Compare page: one image through /v1/compare, cut-outs side by side, mattes' difference,
// agreement and (with a ground truth) the metrics; the contact sheet to download.
import { call } from "./api.js";
import { $, el, fmt, table } from "./dom.js";
import { loadImage, matteOf, paintDifference } from "./mattes.js";
import { optionsForm, providerChecks } from "./options.js";
import { backgroundPicker, paintBackground } from "./viewer.js";
import { describeProblem, ms } from "./words.js";

const TRUTH = "ground truth";

function b64ToBlob(text, type) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

export function setupCompare(root, { toast }) {
  const fileInput = $("#cmp-file", root);
  const truthInput = $("#cmp-truth", root);
  const runButton = $("[data-testid=compare-run]", root);
  const grid = $(".cmp-grid", root);
  const problem = $(".problem", root);
  const zoom = $("#cmp-zoom", root);
  const options = optionsForm($("#cmp-options", root), "cmp", { extra: false });
  let pickProviders = () => [];
  let background = ["checker", ""];
  let state = { urls: [], mattes: {}, width: 0, height: 0 };

  backgroundPicker($(".backgrounds", root), (bg, colour) => {
    background = [bg, colour];
    for (const view of root.querySelectorAll(".view")) paintBackground(view, bg, colour);
  });

  // Synchronised zoom and pan: one zoom factor; scrolling one view scrolls the others.
  function applyZoom() {
    for (const img of grid.querySelectorAll(".view img")) {
      img.style.width = `${img.naturalWidth * Number(zoom.value)}px`;
    }
    $("#cmp-zoom-label", root).textContent = `${zoom.value}×`;
  }
  zoom.addEventListener("input", applyZoom);
  let syncing = false;
  grid.addEventListener("scroll", (event) => {
    const source = event.target;
    if (syncing || !source.classList?.contains("view")) return;
    syncing = true;
    for (const view of grid.querySelectorAll(".view")) {
      if (view !== source) { view.scrollLeft = source.scrollLeft; view.scrollTop = source.scrollTop; }
    }
    syncing = false;
  }, true);

  function card(outcome, shown) {
    const facts = outcome.status === "ok"
      ? `${ms(outcome.latency_ms)} · cost ${fmt(outcome.cost)} · ${outcome.width}×${outcome.height}`
        + (outcome.emulated?.length ? ` · gateway did ${outcome.emulated.join(", ")}` : "")
      : `${outcome.error} — ${outcome.detail || ""}`;
    const view = el("div", { class: "view" });
    paintBackground(view, ...background);
    if (shown) {
      const img = el("img", { src: shown.url, alt: `cut-out by ${shown.provider}`,
        "data-testid": "result", "data-provider": shown.provider });
      img.addEventListener("load", applyZoom, { once: true });
      view.append(img);
    }
    return el("figure", { class: `cmp-card ${outcome.status}`, "data-name": outcome.provider },
      el("figcaption", {}, el("strong", { text: outcome.provider }), el("span", { text: facts })),
      view);
  }

  function agreementTable(outcomes) {
    const names = outcomes.filter((o) => o.quality?.agreement).map((o) => o.provider);
    if (!names.length) return el("p", { class: "hint", text: "No pairwise agreement (fewer than two successful answers, or a ground truth was given)." });
    const columns = [["", (r) => r.provider], ...names.map((n) => [`IoU with ${n}`, (r) => {
      const pair = r.quality.agreement[n];
      return pair ? `${fmt(pair.iou)} (mean diff ${fmt(pair.mad)})` : "—";
    }]), ["soft-edge share", (r) => fmt(r.quality.partial_share)]];
    return table(columns, outcomes.filter((o) => o.quality?.agreement),
      { "data-testid": "compare-agreement", class: "grid-table" });
  }

  function metricsTable(outcomes) {
    const rows = outcomes.filter((o) => o.quality?.against === "ground_truth");
    const cell = (key) => (r) => fmt(r.quality[key]);
    return table([["provider", (r) => r.provider], ["SAD", cell("sad")], ["MSE", cell("mse")],
      ["gradient", cell("gradient")], ["connectivity", cell("connectivity")],
      ["IoU", cell("iou")], ["soft-edge share", cell("partial_share")],
      ["region", (r) => r.quality.region]],
    rows.map((r) => ({ ...r, __attrs: { "data-provider": r.provider } })),
    { "data-testid": "compare-metrics", class: "grid-table" });
  }

  function difference() {
    const a = $("#cmp-diff-a", root).value;
    const b = $("#cmp-diff-b", root).value;
    const canvas = $("#cmp-diff", root);
    const { mattes, width, height } = state;
    if (!mattes[a] || !mattes[b]) return;
    const share = paintDifference(canvas, mattes[a], mattes[b], width, height);
    $("#cmp-diff-note", root).textContent =
      `${(share * 100).toFixed(1)}% of pixels differ by more than 10% opacity ` +
      `(magenta: ${a} keeps more; green: ${b} keeps more).`;
  }
  $("#cmp-diff-a", root).addEventListener("change", difference);
  $("#cmp-diff-b", root).addEventListener("change", difference);

  async function fillMattes(shown, truthFile) {
    const mattes = {};
    const { width, height } = state;
    for (const [name, item] of Object.entries(shown)) {
      mattes[name] = matteOf(await loadImage(item.blob), width, height);
    }
    if (truthFile) mattes[TRUTH] = matteOf(await loadImage(truthFile), width, height);
    state.mattes = mattes;
    const names = Object.keys(mattes);
    for (const [id, pick] of [["#cmp-diff-a", 0], ["#cmp-diff-b", 1]]) {
      $(id, root).replaceChildren(...names.map((n, i) => el("option", { value: n, text: n,
        selected: i === pick })));
    }
    $(".cmp-diff", root).hidden = names.length < 2;
    difference();
  }

  async function run() {
    const image = fileInput.files[0];
    const names = pickProviders();
    if (!image || names.length < 2) {
      toast("Pick an image and tick at least two providers.");
      return;
    }
    problem.hidden = true;
    runButton.disabled = true;
    root.classList.add("busy");
    for (const u of state.urls) URL.revokeObjectURL(u);
    try {
      const fields = options();
      const form = new FormData();
      form.append("image_file", image, image.name || "image");
      if (truthInput.files[0]) form.append("ground_truth", truthInput.files[0]);
      form.append("providers", names.join(","));
      form.append("sheet", "true");
      form.append("images", "true"); // the cut-outs come with the report: each provider paid once
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const answer = await (await call("/v1/compare", { method: "POST", body: form,
        headers: { Accept: "application/json" } })).json();
      const report = answer.report || answer;
      const shown = Object.fromEntries(report.providers.filter((o) => o.status === "ok").map(
        (o) => [o.provider, { blob: b64ToBlob(o.image_base64, o.media_type), provider: o.provider }]));
      state = { urls: [], mattes: {}, width: report.width, height: report.height };
      for (const item of Object.values(shown)) {
        item.url = URL.createObjectURL(item.blob);
        state.urls.push(item.url);
      }
      grid.replaceChildren(...report.providers.map((o) => card(o, shown[o.provider])));
      $(".cmp-agreement", root).replaceChildren(agreementTable(report.providers));
      const metrics = $(".cmp-metrics", root);
      metrics.hidden = !report.ground_truth;
      metrics.replaceChildren(el("h3", { text: "Metrics against the ground truth (lower is better; IoU higher)" }),
        metricsTable(report.providers));
      const sheet = $("[data-testid=compare-sheet]", root);
      if (answer.sheet_base64) {
        const url = URL.createObjectURL(b64ToBlob(answer.sheet_base64, "image/png"));
        state.urls.push(url);
        sheet.href = url;
        sheet.hidden = false;
      }
      $(".cmp-results", root).hidden = false;
      await fillMattes(shown, truthInput.files[0]);
    } catch (err) {
      problem.textContent = describeProblem(err);
      problem.hidden = false;
    } finally {
      runButton.disabled = false;
      root.classList.remove("busy");
    }
  }

  runButton.addEventListener("click", run);
  return {
    providersChanged(list) {
      const ticked = pickProviders();
      const initial = ticked.length ? ticked
        : list.filter((p) => p.enabled).slice(0, 2).map((p) => p.name);
      pickProviders = providerChecks($("#cmp-providers", root), list, { checked: initial,
        testid: "compare-provider" });
      if (list.filter((p) => p.enabled).length < 2) {
        $("#cmp-providers", root).append(el("p", { class: "hint", text: "A comparison needs two "
          + "enabled providers: set a vendor's API key, or try the fake vendors (make sandbox, "
          + "then make run CONFIG=config/sandbox.toml)." }));
      }
    },
  };
}
