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

  function onKeydown(event) {
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
  document.addEventListener("keydown", onKeydown);
  document.addEventListener("click", onClick);
  document.addEventListener("change", onChange);

  window.Plixo = { showToast: showToast, isTyping: isTyping };
})();
