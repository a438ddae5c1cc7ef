// Passkeys (WebAuthn): the browser half of /account/passkeys (add) and of the login page (sign in).
// Options come from the server by POST (it stores the challenge); the answer goes back in an ordinary form
// field, so the server's pages and redirects do the rest. Without WebAuthn the forms stay hidden.
(function () {
  if (!window.PublicKeyCredential || !window.fetch || !navigator.credentials) return;

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function encode(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      authenticatorAttachment: credential.authenticatorAttachment || null
    });
  }

  function options(url, fields) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString()
    }).then(function (answer) {
      if (!answer.ok) throw new Error("options");
      return answer.json();
    });
  }

  function run(form, url, fields, ceremony) {
    var error = form.querySelector(".passkey-error");
    var button = form.querySelector("button");
    function fail(text) {
      button.disabled = false;
      if (error) { error.textContent = text; error.hidden = false; }
    }
    form.addEventListener("submit", function (event) {
      if (form.elements.credential.value) return; // the answer is in: let the form go
      event.preventDefault();
      button.disabled = true;
      if (error) error.hidden = true;
      options(url, fields()).then(ceremony).then(function (credential) {
        form.elements.credential.value = encode(credential);
        form.submit();
      }).catch(function (exc) {
        fail(exc && exc.name === "NotAllowedError" ? form.dataset.cancelled : form.dataset.unsupported);
      });
    });
    form.hidden = false;
  }

  var register = document.getElementById("passkey-register");
  if (register) {
    run(register, "/account/passkeys/options", function () {
      return { csrf: register.elements.csrf.value };
    }, function (o) {
      o.challenge = toBytes(o.challenge);
      o.user.id = toBytes(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.create({ publicKey: o });
    });
  }

  function get(o) {
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return navigator.credentials.get({ publicKey: o });
  }

  var confirm = document.getElementById("passkey-confirm"); // the console asking staff again
  if (confirm) {
    run(confirm, "/console/reauth/passkey/options", function () {
      return { csrf: confirm.elements.csrf.value };
    }, get);
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    run(login, "/login/passkey/options", function () {
      return { csrf: login.elements.csrf.value, flow: login.elements.flow.value };
    }, get);
  }
})();
