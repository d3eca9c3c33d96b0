// The light or dark theme chosen with the header's switch, applied before the page is drawn (this
// file is loaded without defer, in <head>): no flash of the other theme. Without a choice, or
// without script, the page follows the system setting (prefers-color-scheme, in app.css).
(function () {
  var KEY = "devpilot-theme";
  var root = document.documentElement;
  root.classList.add("js");
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply(choice) {
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
  }
  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("theme-choice");
    if (!select) return;
    select.value = root.getAttribute("data-theme") || "system";
    select.addEventListener("change", function () {
      apply(select.value);
      try {
        if (select.value === "light" || select.value === "dark") localStorage.setItem(KEY, select.value);
        else localStorage.removeItem(KEY);
      } catch (e) { /* storage refused: the choice lasts for this page only */ }
    });
  });
})();
