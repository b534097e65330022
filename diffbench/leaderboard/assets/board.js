/* diffbench leaderboard: sort a board by clicking a column header.
 * A table.board names its data by data-board (or, on the main boards, data-task).
 * Sort keys come from the embedded data (window.DIFFBENCH_DATA); rows are only reordered,
 * never rebuilt, and no submitted string is ever parsed as HTML. A link to a board in a
 * closed group of the index opens the group. */
(function () {
  "use strict";
  // a link to a board inside a closed group (index.html#task-smoke) opens the group
  function reveal() {
    var el = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (!el) { return; }
    for (var d = el.closest("details"); d; d = d.parentElement ? d.parentElement.closest("details") : null) { d.open = true; }
    el.scrollIntoView();
  }
  reveal();
  window.addEventListener("hashchange", reveal);

  var data = window.DIFFBENCH_DATA;
  if (!data || !data.boards) { return; }

  function compare(a, b) {
    if (typeof a === "string" || typeof b === "string") {
      return String(a).localeCompare(String(b), "en", { numeric: true, sensitivity: "base" });
    }
    return a < b ? -1 : (a > b ? 1 : 0);
  }

  function sortBoard(table, board, th, direction) {
    var key = th.getAttribute("data-key");
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (ra, rb) {
      var ida = ra.getAttribute("data-id"), idb = rb.getAttribute("data-id");
      var a = board.rows[ida] ? board.rows[ida][key] : null;
      var b = board.rows[idb] ? board.rows[idb][key] : null;
      var tie = board.order.indexOf(ida) - board.order.indexOf(idb);
      if (a === null || a === undefined) { return (b === null || b === undefined) ? tie : 1; }  // missing values last
      if (b === null || b === undefined) { return -1; }
      return sign * compare(a, b) || tie;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    var headers = table.querySelectorAll("th[data-key]");
    Array.prototype.forEach.call(headers, function (h) {
      if (h === th) { h.setAttribute("aria-sort", direction); } else { h.removeAttribute("aria-sort"); }
    });
  }

  // "verified entries only": hide the rows of that board without the verified class.
  Array.prototype.forEach.call(document.querySelectorAll("input.verified-only"), function (box) {
    box.addEventListener("change", function () {
      Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
        if (table.getAttribute("data-task") !== box.getAttribute("data-task")) { return; }
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          row.classList.toggle("filtered-out", box.checked && !row.classList.contains("verified"));
        });
      });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
    var board = data.boards[table.getAttribute("data-board") || table.getAttribute("data-task")];
    if (!board) { return; }
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var now = th.getAttribute("aria-sort");
        var first = th.getAttribute("data-first") || "ascending";
        var direction = now ? (now === "ascending" ? "descending" : "ascending") : first;
        sortBoard(table, board, th, direction);
      });
    });
  });
})();
