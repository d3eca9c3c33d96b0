// Devpilot's only script besides htmx: shows errors of htmx requests as a notice, and closes
// notices. No inline scripts anywhere, so the Content-Security-Policy can forbid them.
(function () {
  function notice(text, kind) {
    var box = document.getElementById("notice");
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
    notice(text, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    notice("Could not reach the Devpilot server. Check your connection and try again.", "error");
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

  document.addEventListener("click", function (evt) {
    var t = evt.target;
    if (t && t.matches && t.matches("[data-dismiss]")) {
      var n = t.closest(".notice");
      if (n) n.remove();
    }
  });
})();
