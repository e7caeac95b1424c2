// The portal's few behaviours that plain HTML lacks; everything else is htmx attributes.
(function () {
  "use strict";
  // A dialog's content arrived: open it as a modal (focus moves into it; Esc closes it).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target.id === "modal-body") {
      var dialog = document.getElementById("modal");
      if (!dialog.open) dialog.showModal();
      focusFirstToCorrect(target) || focusFirstField(target);
    } else {
      var modal = document.getElementById("modal");  // a form inside the open dialog was refused
      if (modal && modal.open) focusFirstToCorrect(document.getElementById("modal-body"));
    }
    if (target.id === "panel") {
      document.body.classList.add("panel-open");
      var title = target.querySelector("h2");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    }
    applyColumnChoices(document);
  });
  // A refused form: the first marked field takes the focus, in view (the person sees what to
  // correct, and the button that sent it does not seem dead); without one, the form's message.
  function focusFirstToCorrect(root) {
    var field = root.querySelector("[aria-invalid=true]");
    var message = root.querySelector(".form-error");
    var target = field || message;
    if (!target) return false;
    if (!field) target.setAttribute("tabindex", "-1");
    target.focus();
    target.scrollIntoView({ block: "center" });
    return true;
  }
  function focusFirstField(root) {
    var first = root.querySelector("[autofocus], input:not([type=hidden]), select, button");
    if (first) first.focus();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-modal]")) document.getElementById("modal").close();
    if (event.target.closest("[data-close-panel]")) {
      document.getElementById("panel").innerHTML = "";
      document.body.classList.remove("panel-open");
    }
  });
  // Column chooser: hide or show a table's columns; the choice is kept in this browser.
  function key(table, column) { return "portal.columns." + table + "." + column; }
  function applyColumnChoices(root) {
    root.querySelectorAll("input[data-table][data-column]").forEach(function (box) {
      var choice = localStorage.getItem(key(box.dataset.table, box.dataset.column)) || box.dataset.default;
      box.checked = choice !== "hidden";
      showColumn(box.dataset.table, box.dataset.column, box.checked);
    });
  }
  function showColumn(tableId, column, shown) {
    var table = document.getElementById(tableId);
    if (!table) return;
    table.querySelectorAll('[data-column="' + column + '"]').forEach(function (cell) { cell.hidden = !shown; });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches("input[data-table][data-column]")) return;
    localStorage.setItem(key(box.dataset.table, box.dataset.column), box.checked ? "shown" : "hidden");
    showColumn(box.dataset.table, box.dataset.column, box.checked);
  });
  document.addEventListener("DOMContentLoaded", function () {
    applyColumnChoices(document);
    var panel = document.getElementById("panel");
    if (panel && panel.children.length) document.body.classList.add("panel-open");
  });
})();
