// Devpilot's only script besides htmx: shows errors of htmx requests as a notice, closes
// notices, and runs the plan form's "New destination…" dialog. No inline scripts anywhere, so the
// Content-Security-Policy can forbid them.
(function () {
  function notice(text, kind, where) {
    // A request from inside an open dialog reports there: the page behind it is covered.
    var dialog = where && where.closest ? where.closest("dialog[open]") : null;
    var box = (dialog && dialog.querySelector(".dialog-notice")) || document.getElementById("notice");
    if (!box) return;
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "notice notice-" + (kind || "error");
    p.textContent = text;
    box.appendChild(p);
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var text = "The request failed (" + xhr.status + ").";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var msg = doc.querySelector(".error-message");
      if (msg) text = msg.textContent.trim();
      else if (xhr.responseText && xhr.responseText.length < 300 && xhr.responseText.indexOf("<") < 0) text = xhr.responseText;
    } catch (e) { /* keep the generic text */ }
    notice(text, "error", evt.detail.elt);
  });

  // A button that submits a shared form (the destination rows' `row-actions`) shows it is busy
  // itself: htmx marks only the form, which is elsewhere on the page.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var cause = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    var button = cause && cause.submitter;
    if (button && button.classList) button.classList.add("busy");
  });
  document.addEventListener("htmx:afterRequest", function () {
    document.querySelectorAll(".btn.busy").forEach(function (b) { b.classList.remove("busy"); });
  });

  document.addEventListener("htmx:sendError", function (evt) {
    notice("Could not reach the Devpilot server. Check your connection and try again.", "error", evt.detail.elt);
  });

  // The plan form shows the source fields of the chosen source type (all of them without script).
  function showSourceFields() {
    var kind = document.getElementById("f-source_kind");
    if (!kind) return;
    document.querySelectorAll("[data-source-kinds]").forEach(function (field) {
      field.hidden = field.getAttribute("data-source-kinds").split(" ").indexOf(kind.value) < 0;
    });
  }
  document.addEventListener("DOMContentLoaded", showSourceFields);
  document.addEventListener("change", function (evt) {
    if (evt.target && evt.target.id === "f-source_kind") showSourceFields();
  });

  // "Copy" beside a least-privilege policy: the text of the element named by data-copy.
  function copied(button, ok) {
    var label = button.textContent;
    button.textContent = ok ? "Copied" : "Select and copy it by hand";
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function copyText(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); }, function () { copied(button, false); });
      return;
    }
    // Plain http (not localhost): no Clipboard API; select the text and copy the selection.
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    copied(button, ok);
  }

  document.addEventListener("click", function (evt) {
    var t = evt.target;
    if (t && t.matches && t.matches("[data-copy]")) copyText(t);
    if (t && t.matches && t.matches("[data-dismiss]")) {
      var n = t.closest(".notice");
      if (n) n.remove();
    }
    if (t && t.matches && t.matches("[data-close-dialog]")) {
      var d = t.closest("dialog");
      if (d) d.close();
    }
  });

  // The plan form's dialog (templates/plans/form.html): htmx loads the destination form into its
  // body; the first load opens it, and each load (errors included) puts the focus on the first
  // field, or the first one with an error. Esc and Cancel close it.
  var DIALOG = "destination-dialog";

  document.addEventListener("htmx:afterSwap", function (evt) {
    var body = evt.detail.target;
    var dialog = document.getElementById(DIALOG);
    if (!dialog || !body || body.parentElement !== dialog || !body.querySelector("form")) return;
    if (!dialog.open) dialog.showModal();
    var field = body.querySelector(".has-error input, .has-error select, .has-error textarea") ||
      body.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  });

  // A save that passed its test (HX-Trigger from src/destinations/dialog.rs): the answer swaps the
  // plan's destination options with the new one selected; close the dialog and return there.
  document.addEventListener("destination-saved", function () {
    var dialog = document.getElementById(DIALOG);
    if (dialog && dialog.open) dialog.close();
    var select = document.getElementById(filling);
    if (select) select.focus();
  });

  // Which select the open dialog fills: a copy's button asks for its own (`select=copy_1`).
  var filling = "f-destination_id";
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest ? evt.target.closest("[hx-get^='/destinations/new?dialog=1']") : null;
    if (!button) return;
    var asked = /[?&]select=(copy_[12])/.exec(button.getAttribute("hx-get"));
    filling = "f-" + (asked ? asked[1] : "destination_id");
  });

  // A closed dialog keeps no form behind: the next "New destination…" loads a fresh one.
  document.addEventListener("close", function (evt) {
    if (evt.target.id !== DIALOG) return;
    var body = evt.target.querySelector("#destination-dialog-body");
    if (body) body.textContent = "";
  }, true);
})();
