// The unified options as a form. Only values that differ from the default are sent.
// "More options" takes `key=value` lines, so an option added to the gateway later can be
// used before this console learns about it.
import { el } from "./dom.js";

export const OPTIONS = [
  { name: "format", label: "Format", kind: "select", values: ["png", "jpg", "webp", "zip"],
    help: "jpg has no transparency (flattened on the background colour, white if none); "
      + "zip: a colour image plus the matte" },
  { name: "channels", label: "Channels", kind: "select", values: ["rgba", "alpha"],
    help: "alpha: only the matte (white = kept)" },
  { name: "size", label: "Size", kind: "select",
    values: ["full", "preview", "medium", "hd", "auto"],
    help: "cap on output pixels: preview 0.25 MP, medium 1.5 MP, hd 4 MP; never upscales" },
  { name: "crop", label: "Crop to the subject", kind: "bool" },
  { name: "crop_margin", label: "Crop margin", kind: "text", placeholder: "12px or 5%" },
  { name: "bg_color", label: "Background colour", kind: "color",
    placeholder: "none, white, #rrggbb or #rrggbbaa" },
  { name: "bg_image_url", label: "Background image URL", kind: "text",
    placeholder: "https://… (instead of a colour)" },
  { name: "bg_image_file", label: "Background image file", kind: "file" },
  { name: "despill", label: "Despill (clean colour bleeding into edges)", kind: "bool" },
  { name: "roi", label: "Region of interest", kind: "text", placeholder: "x1 y1 x2 y2 (px or %)" },
  { name: "scale", label: "Subject scale", kind: "text", placeholder: "original or 10%…100%" },
  { name: "position", label: "Subject position", kind: "text",
    placeholder: "original, center, N% or H% V%" },
  { name: "shadow", label: "Add a drop shadow", kind: "bool" },
  { name: "shadow_opacity", label: "Shadow opacity", kind: "text", placeholder: "0…100 (50)" },
];

function field(option, prefix) {
  const id = `${prefix}-${option.name}`;
  let input;
  if (option.kind === "select") {
    input = el("select", { id, name: option.name },
      option.values.map((v, i) => el("option", { value: i === 0 ? "" : v, text: v })));
  } else if (option.kind === "bool") {
    input = el("input", { id, name: option.name, type: "checkbox" });
    return el("label", { class: "check", title: option.help }, input, " ", option.label);
  } else if (option.kind === "file") {
    input = el("input", { id, name: option.name, type: "file", accept: "image/*" });
  } else {
    input = el("input", { id, name: option.name, type: "text", placeholder: option.placeholder,
      autocomplete: "off", spellcheck: "false" });
  }
  const row = el("label", { title: option.help }, option.label, input);
  if (option.kind === "color") {
    const picker = el("input", { type: "color", "aria-label": "pick a colour", value: "#ffffff",
      oninput: () => { input.value = picker.value; } });
    row.append(picker);
  }
  return row;
}

/** Render the options into `root`; returns a function giving the non-default values
 * (strings, or a File for a file option). */
export function optionsForm(root, prefix, { extra = true, files = true } = {}) {
  const shown = OPTIONS.filter((o) => files || o.kind !== "file");
  root.replaceChildren(...shown.map((o) => field(o, prefix)));
  let more = null;
  if (extra) {
    more = el("textarea", { id: `${prefix}-more`, rows: "2", spellcheck: "false",
      placeholder: "more options, one key=value a line" });
    root.append(el("label", {}, "More options", more));
  }
  return () => {
    const values = {};
    for (const option of shown) {
      const input = root.querySelector(`[name="${option.name}"]`);
      let value = input.value.trim();
      if (option.kind === "bool") value = input.checked ? "true" : "";
      if (option.kind === "file") value = input.files[0] || "";
      if (value) values[option.name] = value;
    }
    for (const line of (more?.value || "").split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) values[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return values;
  };
}

/** Checkboxes of the enabled providers (from /v1/providers); returns the ticked names getter. */
export function providerChecks(root, providers, { checked = [], testid } = {}) {
  const enabled = providers.filter((p) => p.enabled);
  root.replaceChildren(...enabled.map((p) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: p.name, checked: checked.includes(p.name),
      "data-testid": testid }),
    " ", p.name, el("small", { text: ` ${p.type}${p.cost ? ` · cost ${p.cost}` : ""}` }))));
  if (!enabled.length) root.append(el("p", { class: "hint", text: "No provider is enabled." }));
  return () => [...root.querySelectorAll("input:checked")].map((i) => i.value);
}
