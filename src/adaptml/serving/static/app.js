// adaptml serving UI: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  window.addEventListener("pageshow", function () {  // coming back from a result: buttons usable again
    document.querySelectorAll("form[data-busy-form] button[type=submit]").forEach(function (button) {
      if (button.dataset.label) { button.textContent = button.dataset.label; }
      button.disabled = false;
    });
  });
  document.querySelectorAll("form[data-busy-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.dataset.label = button.textContent;
        window.setTimeout(function () { button.disabled = true; button.textContent = "Predicting…"; }, 0);
      }
    });
  });
})();
