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
  // hx-confirm asks in the portal's own dialog: the browser's confirm box is neither styled nor
  // clear about what is confirmed. The request goes ahead only on "Confirm".
  var pendingConfirm = null;
  function ask(event, question, pending) {
    var dialog = document.getElementById("confirm-dialog");
    if (!question || !dialog) return;
    event.preventDefault();
    pendingConfirm = pending;
    document.getElementById("confirm-question").textContent = question;
    dialog.showModal();
    dialog.querySelector("[data-confirm=yes]").focus();
  }
  document.addEventListener("htmx:confirm", function (event) {
    ask(event, event.detail.question, event.detail);
  });
  // A plain form with data-confirm-submit asks in the same dialog before it is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirmed) return;
    ask(event, form.dataset.confirmSubmit, {
      issueRequest: function () { form.dataset.confirmed = "yes"; form.requestSubmit(); },
    });
  });
  document.addEventListener("click", function (event) {
    var answer = event.target.closest("[data-confirm]");
    if (!answer) return;
    var confirmed = pendingConfirm;
    pendingConfirm = null;
    document.getElementById("confirm-dialog").close();
    if (confirmed && answer.dataset.confirm === "yes") confirmed.issueRequest(true);
  });
  // A click anywhere on a row of a list opens its panel, as its first button does (a click on a
  // link, a button or a form control in the row keeps its own meaning).
  document.addEventListener("click", function (event) {
    var row = event.target.closest("tr.selectable");
    if (!row || event.target.closest("a, button, input, select, label, summary, form")) return;
    var opener = row.querySelector("button[hx-get], a[hx-get]");
    if (opener) opener.click();
  });
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
  // The reader's time zone, for the times the server writes into pages (rendering.py). Set on
  // every page, the sign-in page first, so the pages after it are in the reader's zone.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var chosen = document.cookie.split("; ").indexOf("portal_tz_chosen=1") >= 0;  // chosen in the profile
    if (zone && !chosen) document.cookie = "portal_tz=" + zone + "; path=/; SameSite=Strict; max-age=31536000";
  } catch (ignored) { /* a browser without Intl: times stay in UTC, which is shown */ }
  document.addEventListener("DOMContentLoaded", function () {
    applyColumnChoices(document);
    var panel = document.getElementById("panel");
    if (panel && panel.children.length) document.body.classList.add("panel-open");
  });
})();
