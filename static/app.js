// Plixo app shell behaviour: toasts, keyboard shortcuts, copy buttons. No inline scripts anywhere;
// the server talks to this file through namespaced HX-Trigger events (area:verb).
(function () {
  "use strict";

  const TOAST_MS = 5000;

  function showToast(message, level) {
    const box = document.getElementById("toasts");
    if (!box || !message) return;
    const toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.textContent = message;
    box.appendChild(toast);
    dismissLater(toast);
  }

  function dismissLater(toast) {
    setTimeout(function () {
      toast.classList.add("toast-leaving");
      setTimeout(function () { toast.remove(); }, 300);
    }, TOAST_MS);
  }

  function isTyping(target) {
    if (!target) return false;
    const tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function shortcutsDialog() { return document.getElementById("shortcuts"); }

  function toggleShortcuts() {
    const dialog = shortcutsDialog();
    if (!dialog) return;
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  let pendingPrefix = null;

  // Narrow screens: the sidebar is a menu the button in the top bar opens and closes.
  function navToggle() { return document.querySelector("[data-nav-toggle]"); }

  function setNavOpen(open) {
    const button = navToggle();
    const shell = document.querySelector(".shell");
    if (!button || !shell) return;
    shell.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      const first = document.querySelector("#sidebar a, #sidebar select, #sidebar button");
      if (first) first.focus();
    }
  }

  function navIsOpen() {
    const shell = document.querySelector(".shell");
    return !!shell && shell.classList.contains("nav-open");
  }

  function onKeydown(event) {
    if (event.key === "Escape" && navIsOpen()) {
      setNavOpen(false);
      const button = navToggle();
      if (button) button.focus();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && isTyping(event.target)) {
      event.target.blur();
      return;
    }
    if (isTyping(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleShortcuts();
      return;
    }
    if (pendingPrefix === "g" && event.key === "h") {
      pendingPrefix = null;
      const home = document.querySelector(".brand[href]");
      if (home) window.location.assign(home.getAttribute("href"));
      return;
    }
    pendingPrefix = event.key === "g" ? "g" : null;
    // Pages with their own shortcuts listen for this and handle J/K/S etc.
    document.dispatchEvent(new CustomEvent("shell:key", { detail: { key: event.key, original: event } }));
  }

  function onClick(event) {
    if (event.target.closest("[data-nav-toggle]")) { setNavOpen(!navIsOpen()); return; }
    if (navIsOpen() && !event.target.closest("#sidebar")) setNavOpen(false);
    const opener = event.target.closest("[data-shortcuts-open]");
    if (opener) { toggleShortcuts(); return; }
    const copyButton = event.target.closest("[data-copy]");
    if (copyButton) {
      const source = document.querySelector(copyButton.getAttribute("data-copy"));
      if (!source) return;
      const value = source.value !== undefined ? source.value : source.textContent;
      navigator.clipboard.writeText(value).then(
        function () { showToast("Copied to the clipboard.", "success"); },
        function () { source.select && source.select(); showToast("Press Ctrl+C to copy.", "info"); }
      );
    }
  }

  function onChange(event) {
    const select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  }

  // A file input inside [data-dropzone] also takes a dropped file; without JS it is a plain picker.
  function wireDropzones() {
    document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      const input = zone.querySelector("[data-dropzone-input]");
      const text = zone.querySelector("[data-dropzone-text]");
      const show = function () { if (input.files.length) text.textContent = input.files[0].name; };
      zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("dragging"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        zone.classList.remove("dragging");
        if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
      });
      input.addEventListener("change", show);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireDropzones();
    document.querySelectorAll("#toasts .toast").forEach(dismissLater);
    document.body.addEventListener("shell:toast", function (event) {
      showToast(event.detail.message, event.detail.level);
    });
    // After a decision: the navigation's "Approvals (N pending)" follows the list it came from.
    document.body.addEventListener("approvals:changed", function (event) {
      document.querySelectorAll("[data-approvals-waiting]").forEach(function (badge) {
        badge.textContent = event.detail.waiting + " pending";
        badge.hidden = !event.detail.waiting;
      });
    });
    // After a reply is settled: the navigation's "Replies (N waiting)" follows the triage list.
    document.body.addEventListener("replies:changed", function (event) {
      document.querySelectorAll("[data-replies-waiting]").forEach(function (badge) {
        badge.textContent = event.detail.waiting + " waiting";
        badge.hidden = !event.detail.waiting;
      });
    });
    document.body.addEventListener("htmx:sendError", function () {
      showToast("Could not reach Plixo. Check your connection and try again.", "error");
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      const xhr = event.detail.xhr;
      if (!xhr.getResponseHeader("HX-Trigger")) {
        showToast("Something went wrong (" + xhr.status + "). Please try again.", "error");
      }
    });
  });

  // --- Collections queue: J/K selection, S/E/P/D/H, rows leaving after a send or a stop. ---
  const INSPECT_DELAY_MS = 120; // key repeats inside this window load only the last invoice
  let inspectTimer = null;

  function queueRows() { return Array.from(document.querySelectorAll("#queue-rows .queue-row")); }

  function selectedRow() { return document.querySelector("#queue-rows .queue-row.selected"); }

  function markSelected(row) {
    queueRows().forEach(function (r) { r.classList.toggle("selected", r === row); r.removeAttribute("aria-selected"); });
    if (row) { row.setAttribute("aria-selected", "true"); row.scrollIntoView({ block: "nearest" }); }
  }

  function loadInspector(row) {
    clearTimeout(inspectTimer);
    inspectTimer = setTimeout(function () {
      const url = row.getAttribute("data-invoice-url");
      window.htmx.ajax("GET", url, { source: "#inspector", target: "#inspector", swap: "outerHTML" });
      history.replaceState(history.state, "", url);
    }, INSPECT_DELAY_MS);
  }

  function moveSelection(step) {
    const rows = queueRows();
    if (!rows.length) { showToast("The queue is empty.", "info"); return; }
    const index = rows.indexOf(selectedRow());
    const next = rows[Math.min(Math.max(index + step, 0), rows.length - 1)] || rows[0];
    if (index === -1 && step < 0) return;
    markSelected(next);
    loadInspector(next);
  }

  function openAction(id) {
    const details = document.getElementById(id);
    if (!details) { showToast("Open an invoice first (press J).", "info"); return; }
    details.open = true;
    const field = details.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  }

  // Lists that work like the queue (Disputes): J/K move, and a key opens the inspector's action marked data-key.
  function onListKey(key, original) {
    if (key === "j" || key === "k") { original.preventDefault(); moveSelection(key === "j" ? 1 : -1); return; }
    const action = document.querySelector('#inspector [data-key="' + key + '"]');
    if (!action || original.shiftKey) return;
    original.preventDefault();
    if (action.tagName === "DETAILS") openAction(action.id); else action.click();
  }

  function onQueueKey(event) {
    const list = document.querySelector("[data-queue]");
    if (!list) return;
    const key = event.detail.key.toLowerCase();
    const original = event.detail.original;
    if (list.getAttribute("data-queue-kind")) { onListKey(key, original); return; }
    const actions = {
      j: function () { moveSelection(1); },
      k: function () { moveSelection(-1); },
      s: function () {
        const send = document.querySelector("#inspector [data-send]");
        if (send) send.click(); else showToast("Select an invoice first (press J).", "info");
      },
      e: function () {
        const body = document.getElementById("compose-body");
        if (body) body.focus(); else showToast("Open an invoice first (press J).", "info");
      },
      p: function () { openAction("action-promise"); },
      d: function () { openAction("action-dispute"); },
      h: function () { openAction("action-hold"); },
    };
    if (actions[key] && !original.shiftKey) { original.preventDefault(); actions[key](); }
  }

  function removeRowAndAdvance(invoiceId) {
    const row = document.getElementById("row-" + invoiceId);
    if (!row) return;
    const rows = queueRows();
    const next = rows[rows.indexOf(row) + 1] || rows[rows.indexOf(row) - 1];
    row.remove();
    if (next) { markSelected(next); loadInspector(next); }
  }

  function onQueueClick(event) {
    const row = event.target.closest("#queue-rows .queue-row");
    if (row && !event.target.closest("a")) { markSelected(row); loadInspector(row); return; }
    const link = event.target.closest("[data-select-row]");
    if (link) markSelected(document.getElementById(link.getAttribute("data-select-row")));
    else if (row) markSelected(row);
  }

  // Scheduled sends count down to the second; the server's time stays the truth when the page reloads.
  function formatCountdown(ms) {
    if (ms <= 0) return "sending now";
    const total = Math.floor(ms / 1000);
    const days = Math.floor(total / 86400), hours = Math.floor(total % 86400 / 3600);
    const minutes = Math.floor(total % 3600 / 60), seconds = total % 60;
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return "in " + (days ? days + "d " : "") + hours + "h " + pad(minutes) + "m " + pad(seconds) + "s";
  }

  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      el.textContent = formatCountdown(new Date(el.getAttribute("datetime")) - Date.now());
    });
  }
  setInterval(tickCountdowns, 1000);

  document.addEventListener("shell:key", onQueueKey);
  document.addEventListener("click", onQueueClick);
  document.addEventListener("DOMContentLoaded", function () {
    // One event after every change to the queue; the totals reload on it by themselves (hx-trigger).
    document.body.addEventListener("queue:changed", function (event) {
      const change = event.detail && event.detail.change;
      if ((change === "sent" || change === "removed") && event.detail.invoice_id) {
        removeRowAndAdvance(event.detail.invoice_id);
      }
    });
  });

  // --- Replies (triage): J/K move between waiting replies, A accepts, C changes the class, H marks handled. ---
  let triageIndex = 0;

  function triageItems() { return Array.from(document.querySelectorAll("[data-triage-item]")); }

  function selectTriageItem(index) {
    const items = triageItems();
    if (!items.length) { showToast("No reply is waiting.", "info"); return null; }
    triageIndex = Math.min(Math.max(index, 0), items.length - 1);
    items.forEach(function (item, i) { item.setAttribute("aria-current", i === triageIndex ? "true" : "false"); });
    items[triageIndex].focus({ preventScroll: true });
    items[triageIndex].scrollIntoView({ block: "nearest" });
    return items[triageIndex];
  }

  function pressInSelected(selector) {
    const item = triageItems()[triageIndex];
    const target = item && item.querySelector(selector);
    if (target) target.click(); else showToast("Nothing to do with this key on this reply.", "info");
  }

  function onTriageKey(event) {
    if (!document.querySelector("[data-triage]")) return;
    const key = event.detail.key.toLowerCase();
    const original = event.detail.original;
    const actions = {
      j: function () { selectTriageItem(triageIndex + 1); },
      k: function () { selectTriageItem(triageIndex - 1); },
      a: function () { pressInSelected("[data-accept]"); },
      h: function () { pressInSelected("[data-handled]"); },
      c: function () {
        const item = triageItems()[triageIndex];
        const select = item && item.querySelector("[data-class-select]");
        if (select) select.focus();
      },
    };
    if (actions[key] && !original.shiftKey) { original.preventDefault(); actions[key](); }
  }

  document.addEventListener("shell:key", onTriageKey);
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-triage]") && triageItems().length) selectTriageItem(0);
    // After an answer the list is rendered again: the next reply takes the place of the one settled.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target && event.detail.target.id === "triage" && triageItems().length) {
        selectTriageItem(triageIndex);
      }
    });
  });

  // --- Payer portal: helpers for the payment plan form (it works without them; the server checks everything). ---
  function planRows(form) { return Array.from(form.querySelectorAll("[data-installment-row]")); }

  // Minor units as the plain decimal the amount field reads ("1250.00"); integers only, so nothing is rounded.
  function minorToDecimal(minor, places) {
    if (!places) return String(minor);
    const digits = String(minor).padStart(places + 1, "0");
    return digits.slice(0, -places) + "." + digits.slice(-places);
  }

  function splitPlan(form) {
    const option = form.querySelector("[data-plan-invoice]").selectedOptions[0];
    if (!option || !option.value) { showToast("Choose the invoice first.", "info"); return; }
    const dated = planRows(form).filter(function (row) { return row.querySelector("input[type=date]").value; });
    if (!dated.length) { showToast("Choose the installment dates first.", "info"); return; }
    const balance = Number(option.getAttribute("data-balance-minor"));
    const places = new Intl.NumberFormat("en", { style: "currency", currency: option.getAttribute("data-currency") })
      .resolvedOptions().maximumFractionDigits;
    const share = Math.floor(balance / dated.length);
    planRows(form).forEach(function (row) { row.querySelector("[name=installment_amount]").value = ""; });
    dated.forEach(function (row, index) {
      const amount = index === dated.length - 1 ? balance - share * (dated.length - 1) : share;
      row.querySelector("[name=installment_amount]").value = minorToDecimal(amount, places);
    });
  }

  function addPlanRow(form) {
    const rows = planRows(form);
    if (rows.length >= Number(form.getAttribute("data-max-rows"))) {
      showToast("A plan can have at most " + rows.length + " installments.", "info");
      return;
    }
    const row = rows[rows.length - 1].cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    row.querySelectorAll(".label").forEach(function (label) {
      label.textContent = label.textContent.replace(/\d+$/, String(rows.length + 1));
    });
    rows[rows.length - 1].after(row);
  }

  document.addEventListener("click", function (event) {
    const form = event.target.closest("[data-plan-form]");
    if (!form) return;
    if (event.target.closest("[data-plan-split]")) splitPlan(form);
    else if (event.target.closest("[data-plan-add]")) addPlanRow(form);
  });

  // Charts: a canvas names the JSON block holding its labels and series; the figures table stays for screen readers.
  function drawCharts() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const data = JSON.parse(document.getElementById(canvas.getAttribute("data-chart")).textContent);
      const series = canvas.getAttribute("data-series");
      new window.Chart(canvas, {
        type: canvas.getAttribute("data-kind"),
        data: { labels: data.labels, datasets: [{ data: data[series], spanGaps: true, borderWidth: 2 }] },
        options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
      });
    });
  }
  window.addEventListener("load", drawCharts);

  document.addEventListener("keydown", onKeydown);
  document.addEventListener("click", onClick);
  document.addEventListener("change", onChange);

  window.Plixo = { showToast: showToast, isTyping: isTyping };
})();
