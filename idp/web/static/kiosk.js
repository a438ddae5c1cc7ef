// Shared-device screens: an idle countdown that finishes the session, an on-screen number pad for phone
// numbers and codes, and (on the kiosk demo) polling the device grant. Finishing always posts the
// `#kiosk-finish` form, so without JavaScript the finish button still works.
(function () {
  "use strict";
  var body = document.body;
  var finish = document.getElementById("kiosk-finish");
  var idleNote = document.getElementById("kiosk-idle");
  var idle = parseInt(body.getAttribute("data-idle") || "90", 10);
  var left = idle;
  var finished = false;

  function finishNow() {
    if (finished || !finish) return;
    finished = true;
    // Clear the screen before the round trip: nothing personal stays visible while the next page loads.
    var main = document.querySelector("main");
    if (main) main.replaceChildren();
    finish.submit();
  }
  function showLeft() {
    if (idleNote) idleNote.textContent = idleNote.getAttribute("data-label").replace("{n}", String(left));
  }
  function touched() { left = idle; showLeft(); }
  ["pointerdown", "keydown", "input"].forEach(function (name) {
    document.addEventListener(name, touched, { passive: true, capture: true });
  });
  window.setInterval(function () {
    left -= 1;
    if (left <= 0) { left = 0; showLeft(); finishNow(); return; }
    showLeft();
  }, 1000);
  showLeft();
  // Leaving by the back button must not show the previous person's page from memory.
  window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });

  // The number pad: for phone numbers and codes; the system keyboard stays away (inputmode=none) from fields
  // that take digits only. A field marked data-pad (a TOTP code, or a recovery code with letters) keeps it.
  var template = document.getElementById("kiosk-pad-template");
  var fields = Array.prototype.slice.call(document.querySelectorAll("input[inputmode=numeric], input[data-pad]"));
  if (template && fields.length) {
    var target = fields.filter(function (f) { return !f.value; })[0] || fields[0];
    fields.forEach(function (f) {
      if (!f.hasAttribute("data-pad")) f.setAttribute("inputmode", "none");
      f.setAttribute("autocomplete", "off");
      f.addEventListener("focus", function () { target = f; });
    });
    var pad = template.content.firstElementChild.cloneNode(true);
    var last = fields[fields.length - 1];
    last.parentNode.insertBefore(pad, last.nextSibling);
    pad.addEventListener("click", function (e) {
      var key = e.target.getAttribute && e.target.getAttribute("data-key");
      if (!key) return;
      var max = parseInt(target.getAttribute("maxlength") || "20", 10);
      if (key === "clear") target.value = "";
      else if (key === "back") target.value = target.value.slice(0, -1);
      else if (target.value.length < max) target.value += key;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  // The kiosk demo: poll the device grant (through the kiosk's own back end) at the interval it was given,
  // five seconds slower after each slow_down (RFC 8628 §3.5).
  var screen = document.querySelector("[data-poll]");
  if (!screen) return;
  var interval = parseInt(screen.getAttribute("data-interval") || "5", 10);
  var status = document.getElementById("kiosk-status");
  function show(state, text) {
    screen.setAttribute("data-state", state);
    Array.prototype.forEach.call(screen.querySelectorAll("[data-while]"), function (el) {
      el.hidden = el.getAttribute("data-while") !== state;
    });
    if (text !== undefined && status) status.textContent = text;
  }
  function poll() {
    fetch(screen.getAttribute("data-poll"), { method: "POST", credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.status === "authorization_pending") return window.setTimeout(poll, interval * 1000);
        if (answer.status === "slow_down") { interval += 5; return window.setTimeout(poll, interval * 1000); }
        if (answer.status === "done") {
          touched();
          return show("done", screen.getAttribute("data-signed-in").replace("{name}", answer.name));
        }
        show(answer.status === "access_denied" ? "denied" : "expired");
      })
      .catch(function () { window.setTimeout(poll, interval * 1000); });
  }
  window.setTimeout(poll, interval * 1000);
})();
