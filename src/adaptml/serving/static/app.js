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

// Results table: sortable headers (click or keyboard; numbers sort as numbers, blanks last) and pinned input columns.
(function () {
  "use strict";
  var table = document.querySelector("table.sortable");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

  function value(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell || cell.classList.contains("cell-error")) { return null; }
    var text = numeric ? (cell.getAttribute("title") || cell.textContent) : cell.textContent;
    if (text.trim() === "") { return null; }
    if (numeric) { var number = parseFloat(text); return isNaN(number) ? null : number; }
    return text.trim().toLocaleLowerCase();
  }
  function isNumeric(index) {
    if (headers[index].classList.contains("rownum")) { return true; }
    return Array.prototype.some.call(body.rows, function (row) {
      return row.cells[index] && row.cells[index].classList.contains("num");
    });
  }
  function sortBy(index) {
    var th = headers[index];
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var numeric = isNumeric(index);
    var rows = Array.prototype.slice.call(body.rows).map(function (row, order) {
      return { row: row, key: value(row, index, numeric), order: order };
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {  // blanks and failed cells stay last either way
        return a.key === b.key ? a.order - b.order : (a.key === null ? 1 : -1);
      }
      var diff = numeric ? a.key - b.key : a.key.localeCompare(b.key, undefined, { numeric: true });
      return (ascending ? diff : -diff) || a.order - b.order;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  headers.forEach(function (th, index) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort-button";
    while (th.firstChild) { button.appendChild(th.firstChild); }
    button.setAttribute("aria-label", "sort by " + (th.dataset.key || "row number"));
    th.appendChild(button);
    button.addEventListener("click", function () { sortBy(index); });
  });

  // pin the row number and the input columns (class "pinned") while they take at most 40% of the visible width
  function pin() {
    var scroller = table.parentElement, budget = scroller.clientWidth * 0.4, left = 0, pinning = true;
    headers.forEach(function (th, index) {
      var stick = pinning && (index === 0 || th.classList.contains("pinned")) && left + th.offsetWidth <= budget;
      pinning = stick;
      var cells = [th].concat(Array.prototype.map.call(body.rows, function (row) { return row.cells[index]; }));
      cells.forEach(function (cell) {
        if (!cell) { return; }
        cell.classList.toggle("stuck", stick);
        cell.style.left = stick ? left + "px" : "";
      });
      if (stick) { left += th.offsetWidth; }
    });
    var last = table.querySelectorAll("th.stuck");
    table.querySelectorAll(".stuck-last").forEach(function (cell) { cell.classList.remove("stuck-last"); });
    if (last.length) {
      var index = headers.indexOf(last[last.length - 1]);
      [headers[index]].concat(Array.prototype.map.call(body.rows, function (row) { return row.cells[index]; }))
        .forEach(function (cell) { if (cell) { cell.classList.add("stuck-last"); } });
    }
  }
  pin();
  window.addEventListener("resize", pin);
})();
