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
  // The time of loss said back as the server will read it, while it is typed (issue 12,
  // console43): the server's own reading (the echo's data-from, the function the review
  // uses), never one of the script's. Asked a moment after the last key, an earlier
  // question dropped; no answer (signed out, offline) leaves the line empty, and the review
  // still shows the time before anything happens. The box "approximate" is said too.
  var time = document.getElementById("lost_at");
  var echo = document.getElementById("lost-at-echo");
  if (time && echo && window.fetch && window.AbortController) {
    echo.hidden = false;
    var box = document.getElementById("approximate");
    var timer = null;
    var asked = null;
    var ask = function () {
      clearTimeout(timer);
      if (asked) { asked.abort(); }
      var typed = time.value.trim();
      if (!typed) {
        echo.textContent = "";
        echo.classList.remove("unread");
        return;
      }
      asked = new AbortController();
      var query = new URLSearchParams({at: typed, approximate: box && box.checked ? "1" : ""});
      fetch(echo.dataset.from + "?" + query.toString(), {
        signal: asked.signal,
        headers: {Accept: "application/json"},
        credentials: "same-origin",
        redirect: "error"
      }).then(function (answer) {
        if (!answer.ok) { throw new Error("no answer"); }
        return answer.json();
      }).then(function (answer) {
        echo.textContent = answer.said;
        echo.classList.toggle("unread", !answer.understood);
      }).catch(function (error) {
        if (error.name !== "AbortError") { echo.textContent = ""; }
      });
    };
    time.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 400);
    });
    if (box) { box.addEventListener("change", ask); }
    // Back from a refusal or the review with a time typed: said at once.
    if (time.value.trim()) { ask(); }
  }
});
