// The Jobs page: a folder (or a pick) of images as one batch job; progress, results, the ZIP.
import { call, getJSON } from "./api.js";
import { $, el, fmt, table } from "./dom.js";
import { optionsForm } from "./options.js";
import { describeProblem } from "./words.js";

const POLL_MS = 1500;
const THUMBNAILS = 12;
const FINISHED = new Set(["done", "cancelled"]);

/** Does this gateway have the jobs API? (Its OpenAPI document lists `/v1/jobs`.) */
export async function hasJobs() {
  try {
    const schema = await getJSON("/schema/openapi.json");
    return Object.keys(schema.paths || {}).includes("/v1/jobs");
  } catch {
    return false;
  }
}

export function setupJobs(root, { toast }) {
  const filesInput = $("#job-files", root);
  const folderInput = $("#job-folder", root);
  const runButton = $("[data-testid=job-run]", root);
  const problem = $(".problem", root);
  const status = $(".job-status", root);
  const progress = $("progress", root);
  const items = $(".job-items", root);
  const thumbs = $(".job-thumbs", root);
  const archive = $("[data-testid=job-archive]", root);
  const cancel = $("#job-cancel", root);
  // A job's options are text fields (an uploaded background is not taken for a batch).
  const options = optionsForm($("#job-options", root), "job", { extra: false, files: false });
  let job = null; // {id, names, timer, urls, shown}

  function chosen() {
    const files = [...filesInput.files, ...folderInput.files];
    return files.filter((f) => f.type.startsWith("image/"));
  }
  for (const input of [filesInput, folderInput]) {
    input.addEventListener("change", () => {
      $(".job-chosen", root).textContent = `${chosen().length} image(s) chosen`;
    });
  }

  function forget() {
    if (!job) return;
    clearTimeout(job.timer);
    for (const u of job.urls) URL.revokeObjectURL(u);
  }

  async function thumbnail(index) {
    const response = await call(`/v1/jobs/${job.id}/items/${index}`);
    const url = URL.createObjectURL(await response.blob());
    job.urls.push(url);
    const provider = response.headers.get("x-provider") || "";
    thumbs.append(el("figure", { class: "job-thumb on-checker" },
      el("img", { src: url, alt: job.names[index], "data-testid": "result",
        "data-provider": provider }),
      el("figcaption", { text: `${job.names[index]} · ${provider}` })));
  }

  function render(view) {
    progress.max = view.total;
    progress.value = view.done;
    status.textContent = `${view.status}: ${view.done} of ${view.total} done — ` +
      `${view.succeeded} succeeded, ${view.failed} failed, ${view.cancelled} cancelled`;
    status.dataset.status = view.status;
    items.replaceChildren(table([
      ["#", (i) => String(i.index)],
      ["file", (i) => job.names[i.index] || ""],
      ["status", (i) => i.status],
      ["provider", (i) => i.provider || ""],
      ["cost", (i) => fmt(i.cost)],
      ["problem", (i) => i.error ? `${i.error.code}: ${i.error.detail}` : ""],
    ], view.items, { class: "grid-table", "data-testid": "job-items" }));
    cancel.hidden = FINISHED.has(view.status);
  }

  async function poll() {
    try {
      const view = await getJSON(`/v1/jobs/${job.id}`);
      render(view);
      const ready = view.items.filter((i) => i.status === "succeeded" && !job.shown.has(i.index));
      for (const item of ready.slice(0, THUMBNAILS - job.shown.size)) {
        job.shown.add(item.index);
        await thumbnail(item.index);
      }
      archive.hidden = view.succeeded === 0;
      if (view.succeeded !== job.succeeded) delete archive.dataset.ready; // a new ZIP is due
      job.succeeded = view.succeeded;
      if (!FINISHED.has(view.status)) job.timer = setTimeout(poll, POLL_MS);
    } catch (err) {
      problem.textContent = describeProblem(err);
      problem.hidden = false;
    }
  }

  async function run() {
    const files = chosen();
    if (!files.length) {
      toast("Pick images or a folder first.");
      return;
    }
    forget();
    problem.hidden = true;
    runButton.disabled = true;
    try {
      const form = new FormData();
      for (const file of files) form.append("image_file", file, file.name);
      for (const [k, v] of Object.entries(options())) form.append(k, v);
      const created = await (await call("/v1/jobs", { method: "POST", body: form })).json();
      job = { id: created.id, names: files.map((f) => f.webkitRelativePath || f.name),
        timer: null, urls: [], shown: new Set() };
      thumbs.replaceChildren();
      $(".job-view", root).hidden = false;
      $(".job-none", root).hidden = true;
      $(".job-id", root).textContent = created.id;
      await poll();
    } catch (err) {
      problem.textContent = describeProblem(err);
      problem.hidden = false;
    } finally {
      runButton.disabled = false;
    }
  }

  // The archive needs the key header, so it is fetched and handed over as a blob.
  archive.addEventListener("click", async (event) => {
    if (archive.dataset.ready === job.id) return; // the blob URL is set: let the click save it
    event.preventDefault();
    try {
      const blob = await (await call(`/v1/jobs/${job.id}/archive`)).blob();
      const url = URL.createObjectURL(blob);
      job.urls.push(url);
      archive.href = url;
      archive.download = `job-${job.id}.zip`;
      archive.dataset.ready = job.id;
      archive.click();
    } catch (err) {
      toast(describeProblem(err));
    }
  });

  cancel.addEventListener("click", async () => {
    try {
      render(await (await call(`/v1/jobs/${job.id}`, { method: "DELETE" })).json());
    } catch (err) {
      toast(describeProblem(err));
    }
  });

  runButton.addEventListener("click", run);
  return {};
}
