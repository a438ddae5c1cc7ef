// The 60-second countdown on the send-code button. Without JavaScript the button stays usable and the server
// says how long to wait; with it, the button is disabled and counts down.
(function () {
  var button = document.querySelector("button.send");
  if (!button) return;
  var left = parseInt(button.getAttribute("data-wait") || "0", 10);
  var label = button.getAttribute("data-label");
  var waitLabel = button.getAttribute("data-wait-label");
  function tick() {
    if (left > 0) {
      button.disabled = true;
      button.textContent = waitLabel.replace("{seconds}", String(left));
      left -= 1;
      window.setTimeout(tick, 1000);
    } else {
      button.disabled = false;
      button.textContent = label;
    }
  }
  tick();
  var code = document.getElementById("code");
  if (code && left > 0 && !document.getElementById("form-error")) code.focus();
})();
