// Console start-up: the client key, the tabs (#try, #compare, #providers) and the pages.
import { clientKey, setClientKey } from "./api.js";
import { $, $$ } from "./dom.js";
import { setupCompare } from "./compare.js";
import { hasJobs, setupJobs } from "./jobs.js";
import { setupProviders } from "./providers.js";
import { setupTry } from "./try.js";

function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

function setupKey(onChange) {
  const form = $("#key-form");
  const input = $("#key-input");
  const state = $("#key-state");
  const describe = () => {
    state.textContent = clientKey() ? "key set for this tab" : "no key";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setClientKey(input.value.trim());
    form.classList.remove("wanted");
    input.value = "";
    describe();
    onChange();
  });
  $("#key-forget").addEventListener("click", () => {
    setClientKey("");
    describe();
    onChange();
  });
  describe();
}

const pages = {};

function showTab() {
  const name = (location.hash || "#try").slice(1);
  const current = pages[name] ? name : "try";
  for (const section of $$("main > section")) section.hidden = section.dataset.page !== current;
  for (const link of $$("nav a")) link.classList.toggle("active", link.dataset.tab === current);
  if (current === "providers") pages.providers.shown();
}

function start() {
  const tryPage = setupTry($("#page-try"), { toast });
  const comparePage = setupCompare($("#page-compare"), { toast });
  const providersPage = setupProviders($("#page-providers"), {
    needKey() {
      $("#key-form").classList.add("wanted");
      toast("This gateway needs a client key: type it at the top right and press Use.");
    },
    onProviders(list) {
      // Rebuild the provider pickers only when the set of providers changed.
      const signature = list.map((p) => `${p.name}:${p.enabled}`).join(",");
      if (signature === start.signature) return;
      start.signature = signature;
      tryPage.providersChanged(list);
      comparePage.providersChanged(list);
    },
  });
  hasJobs().then((present) => {
    if (!present) return;
    pages.jobs = setupJobs($("#page-jobs"), { toast });
    $("nav a[data-tab=jobs]").hidden = false;
    showTab();
  });
  pages.try = tryPage;
  pages.compare = comparePage;
  pages.providers = providersPage;
  setupKey(() => providersPage.refresh());
  window.addEventListener("hashchange", showTab);
  showTab();
  providersPage.refresh();
}

start();
