// Shows an image on a chosen background, with a before/after slider, zoom and download.
import { $, el } from "./dom.js";

export const BACKGROUNDS = ["checker", "white", "black", "colour"];

/** The background picker, shared by the Try and Compare pages: calls `apply(bg, colour)`. */
export function backgroundPicker(root, apply) {
  const colour = el("input", { type: "color", value: "#3a7bd5", "aria-label": "background colour" });
  const buttons = BACKGROUNDS.map((bg) => el("button", {
    type: "button", class: `bg-swatch bg-${bg}`, "data-bg": bg, title: `${bg} background`,
    text: bg, onclick: () => choose(bg),
  }));
  function choose(bg) {
    for (const b of buttons) b.classList.toggle("active", b.dataset.bg === bg);
    apply(bg, colour.value);
  }
  colour.addEventListener("input", () => choose("colour"));
  root.replaceChildren(el("span", { class: "label", text: "Background" }), ...buttons, colour);
  choose("checker");
}

/** Put `node` on background `bg` (CSS classes; a chosen colour goes through the CSSOM). */
export function paintBackground(node, bg, colour) {
  for (const name of BACKGROUNDS) node.classList.toggle(`on-${name}`, name === bg);
  node.style.backgroundColor = bg === "colour" ? colour : "";
}

export class ResultViewer {
  /** `root` holds .stage, the slider and the toolbar controls (see index.html). */
  constructor(root) {
    this.root = root;
    this.stage = $(".stage", root);
    this.frame = $(".frame", root);
    this.slider = $("input.split", root);
    this.download = $("a.download", root);
    this.zoom = "fit";
    this.mode = "result";
    this.before = null;
    this.result = null;
    this.slider.addEventListener("input", () => this.clip());
    window.addEventListener("resize", () => this.layout());
    backgroundPicker($(".backgrounds", root), (bg, colour) => paintBackground(this.stage, bg,
      colour));
    for (const button of root.querySelectorAll("[data-zoom]")) {
      button.addEventListener("click", () => this.setZoom(button.dataset.zoom));
    }
    for (const button of root.querySelectorAll("[data-mode]")) {
      button.addEventListener("click", () => this.setMode(button.dataset.mode));
    }
  }

  /** Show a new result: `beforeUrl` (the original) and `resultUrl` (blob URLs). */
  show(beforeUrl, resultUrl, { provider, filename, testid = "result" }) {
    this.before = el("img", { class: "before", src: beforeUrl, alt: "original" });
    this.result = el("img", { class: "after", src: resultUrl, alt: `cut-out by ${provider}`,
      "data-testid": testid, "data-provider": provider });
    this.frame.replaceChildren(this.before, this.result);
    this.result.addEventListener("click", (event) => this.zoomAt(event));
    this.download.href = resultUrl;
    this.download.download = filename;
    this.download.hidden = false;
    this.result.addEventListener("load", () => this.layout(), { once: true });
    this.setMode(this.mode);
  }

  /** An answer that is not an image (e.g. `format=zip`): only the download link. */
  file(url, filename, note) {
    this.before = null;
    this.result = null;
    this.frame.replaceChildren(el("p", { class: "placeholder", text: note }));
    this.frame.style.width = "";
    this.download.href = url;
    this.download.download = filename;
    this.download.hidden = false;
  }

  setMode(mode) {
    this.mode = mode;
    for (const b of this.root.querySelectorAll("[data-mode]")) {
      b.classList.toggle("active", b.dataset.mode === mode);
    }
    this.slider.hidden = mode !== "slider";
    if (this.before) this.before.hidden = mode === "result";
    this.clip();
  }

  setZoom(zoom) {
    this.zoom = zoom;
    for (const b of this.root.querySelectorAll("[data-zoom]")) {
      b.classList.toggle("active", b.dataset.zoom === zoom);
    }
    this.layout();
  }

  /** A click in Fit view: 100% zoom centred on the clicked point (to judge an edge). */
  zoomAt(event) {
    if (this.zoom === "100") return;
    const box = this.result.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width;
    const y = (event.clientY - box.top) / box.height;
    this.setZoom("100");
    this.stage.scrollLeft = x * this.result.naturalWidth - this.stage.clientWidth / 2;
    this.stage.scrollTop = y * this.result.naturalHeight - this.stage.clientHeight / 2;
  }

  /** Fit: the whole image inside the stage. 100%: one image pixel per screen pixel, scrollable. */
  layout() {
    if (!this.result) return;
    const { naturalWidth: w, naturalHeight: h } = this.result;
    if (!w || !h) return;
    const actual = this.zoom === "100";
    this.stage.classList.toggle("actual", actual);
    const scale = actual ? 1 : Math.min((this.stage.clientWidth - 2) / w,
      (this.stage.clientHeight - 2) / h);
    this.frame.style.width = `${Math.max(1, Math.floor(w * scale))}px`;
    this.slider.style.width = this.frame.style.width;
  }

  /** Before/after: the original left of the split, the cut-out (on the background) right of it. */
  clip() {
    if (!this.result) return;
    const split = this.mode === "slider" ? Number(this.slider.value) : 0;
    this.result.style.clipPath = split ? `inset(0 0 0 ${split}%)` : "";
    this.before.style.clipPath = split ? `inset(0 ${100 - split}% 0 0)` : "";
  }
}
