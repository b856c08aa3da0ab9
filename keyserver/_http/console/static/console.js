// Enhancements only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.hidden = false;
    // Its autofocus (the report reached by confirming a loss) could not apply while hidden.
    if (print.autofocus) { print.focus(); }
    print.addEventListener("click", function () { window.print(); });
  }
  // Enter in a field whose form is not ready to send moves on to what is missing (the time
  // of loss before any reason is chosen or typed: the form went to the server and came
  // back refused, issue 12), as Tab would. The server still checks everything; an Enter
  // that ends an input method's composition (Japanese) is the IME's, never taken.
  // The group's own radios too (issue 12, sixth newcomer run): Enter moved the cursor onto
  // the first reason without choosing it, and a second Enter sent the form without one.
  // An Enter that finds no reason given shows the group's hint (hidden until then: Space
  // chooses) and, on a reason, leaves the cursor there; once one is given, Enter sends.
  document.querySelectorAll("input[data-enter-next]").forEach(function (field) {
    var group = document.getElementById(field.dataset.enterNext);
    if (!group) { return; }
    var hint = group.querySelector("[data-enter-hint]");
    var stay = function (event) {
      if (event.key !== "Enter" || event.isComposing) { return; }
      if (event.target !== field && event.target.type !== "radio") { return; }
      var answered = Array.prototype.some.call(
        group.querySelectorAll("input"),
        function (input) { return input.type === "radio" ? input.checked : input.value.trim() !== ""; }
      );
      if (answered) { return; }
      event.preventDefault();
      if (hint) { hint.hidden = false; }
      if (event.target === field) { group.querySelector("input").focus(); }
    };
    field.addEventListener("keydown", stay);
    group.addEventListener("keydown", stay);
  });
});
