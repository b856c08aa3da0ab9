// Enhancements only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  // A button that fills a field's beginning (the time of loss's "Today": the date comes
  // from the server, in the configured zone): a time already typed is kept, and the
  // cursor waits at the end for the time.
  document.querySelectorAll("button[data-fill][data-target]").forEach(function (button) {
    var field = document.getElementById(button.dataset.target);
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var time = field.value.match(/\d{1,2}[:\uff1a]\d{2}/);
      field.value = button.dataset.fill + (time ? time[0] : "");
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    });
  });
});
