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

// The proof of work for the next send (idp/authn/hashcash.py): a nonce whose SHA-256 with the page's challenge
// starts with `bits` zero bits. Found in the background while the person types; a click on "send" before it is
// found waits for it. Without Web Crypto the form goes without a proof and the server asks for a short wait.
(function () {
  var proof = document.querySelector('input[name="proof"]');
  var button = document.querySelector("button.send");
  if (!proof || !button || !window.crypto || !window.crypto.subtle || !window.TextEncoder) return;
  var challenge = proof.getAttribute("data-challenge");
  var bits = parseInt(proof.getAttribute("data-bits") || "0", 10);
  var encoder = new TextEncoder();
  var found = null;
  var waiting = false;

  function leadingZeros(buffer) {
    var bytes = new Uint8Array(buffer);
    var zeros = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { zeros += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { zeros += 1; b <<= 1; }
      break;
    }
    return zeros;
  }

  function search(start) {
    var batch = [];
    for (var n = start; n < start + 256; n++) {
      batch.push(window.crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n.toString(36))));
    }
    return Promise.all(batch).then(function (digests) {
      for (var i = 0; i < digests.length; i++) {
        if (leadingZeros(digests[i]) >= bits) return (start + i).toString(36);
      }
      return search(start + 256);
    });
  }

  search(0).then(function (nonce) {
    found = nonce;
    proof.value = nonce;
    proof.setAttribute("data-found", "yes");
    if (waiting) {
      button.disabled = false;
      button.textContent = button.getAttribute("data-label");
      button.form.requestSubmit(button);
    }
  });

  button.addEventListener("click", function (event) {
    if (found !== null) return;
    event.preventDefault();
    waiting = true;
    button.disabled = true;
    button.textContent = proof.getAttribute("data-working-label");
  });
})();
