// The Try page: one image (file, drop, paste or URL), providers and options, one removal.
import { call } from "./api.js";
import { $, factList } from "./dom.js";
import { optionsForm, providerChecks } from "./options.js";
import { ResultViewer } from "./viewer.js";
import { describeAnswer, describeProblem } from "./words.js";

const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };

export function setupTry(root, { providers, toast }) {
  const fileInput = $("[data-testid=upload]", root);
  const urlInput = $("#try-url", root);
  const trimapInput = $("#try-trimap", root);
  const drop = $(".drop", root);
  const chosen = $(".chosen", root);
  const runButton = $("[data-testid=run]", root);
  const facts = $(".answer", root);
  const problem = $(".problem", root);
  const viewer = new ResultViewer($(".viewer", root));
  const options = optionsForm($("#try-options", root), "try");
  let pickProviders = () => [];
  let image = null; // a File or Blob
  let urls = [];

  function useImage(blob, name) {
    image = blob;
    urlInput.value = "";
    chosen.textContent = `${name} (${Math.round(blob.size / 1024)} KB)`;
  }

  fileInput.addEventListener("change", () => {
    if (fileInput.files[0]) useImage(fileInput.files[0], fileInput.files[0].name);
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) useImage(file, file.name);
  });
  document.addEventListener("paste", (event) => {
    if (root.hidden) return;
    const item = [...(event.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
    if (item) useImage(item.getAsFile(), "pasted image");
  });
  urlInput.addEventListener("input", () => {
    if (urlInput.value.trim()) { image = null; chosen.textContent = "the image at the URL"; }
  });

  function routing() {
    const names = pickProviders();
    const fields = {};
    if (names.length === 1) fields.provider = names[0];
    if (names.length > 1) fields.providers = names.join(",");
    if (!$("#try-fallback", root).checked) fields.fallback = "false";
    const policy = $("#try-policy", root).value;
    if (policy) fields.policy = policy;
    return fields;
  }

  async function send(fields) {
    const url = urlInput.value.trim();
    const form = new FormData();
    if (url) form.append("image_url", url);
    else form.append("image_file", image, image.name || "image");
    if (trimapInput.files[0]) form.append("trimap_file", trimapInput.files[0]);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return call("/v1/remove-background", { method: "POST", body: form });
  }

  async function run() {
    if (!image && !urlInput.value.trim()) {
      toast("Pick, drop or paste an image first (or give its URL).");
      return;
    }
    problem.hidden = true;
    runButton.disabled = true;
    root.classList.add("busy");
    try {
      const response = await send({ ...options(), ...routing() });
      const blob = await response.blob();
      for (const u of urls) URL.revokeObjectURL(u);
      const before = image ? URL.createObjectURL(image) : urlInput.value.trim();
      const after = URL.createObjectURL(blob);
      urls = [before, after].filter((u) => u.startsWith("blob:"));
      const provider = response.headers.get("x-provider") || "";
      const ext = EXTENSIONS[blob.type] || blob.type.split("/").pop() || "bin";
      const filename = `cutout-${provider}.${ext}`;
      if (blob.type.startsWith("image/")) {
        viewer.show(image ? before : after, after, { provider, filename });
      } else {
        viewer.file(after, filename, `The answer is a ${blob.type} file (not shown): download it.`);
      }
      facts.replaceChildren(factList(describeAnswer(response.headers)));
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
      pickProviders = providerChecks($("#try-providers", root), list, { checked: ticked });
    },
  };
}
