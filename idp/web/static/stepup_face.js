// The live face step: camera states (none, denied, busy, unsupported), a face guide, a countdown per action,
// frames captured while each action is done, then one POST to /stepup/face. Every failure says what happened
// and offers a retry; the non-face alternative stays on the page whatever happens.
(() => {
  "use strict";
  const root = document.getElementById("face");
  if (!root) return;
  const T = JSON.parse(root.dataset.messages);
  const flow = root.dataset.flow, csrf = root.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  const video = $("video"), status = $("status"), problem = $("problem"), progress = $("progress");
  const startButton = $("start"), retryButton = $("retry"), retryLink = $("retry-link");
  const promptAction = $("prompt-action"), countdown = $("countdown"), alternative = $("alternative");
  const list = $("steps");
  let steps = [];
  const canvas = document.createElement("canvas");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Frame budget (the server takes at most 24): 2 at rest, then per action 5 while doing it and 2 after.
  const SETTLE_MS = 1200, READY_STEPS = 3, READY_STEP_MS = 600, ACTION_FRAMES = 5, ACTION_TICK_MS = 300;
  const REST_FRAMES = 2, REST_TICK_MS = 250;
  let stream = null;

  function setState(state) {
    root.dataset.state = state;
  }

  function say(text) {
    status.textContent = text;
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
  }

  // A problem: what happened, a visible way to try again, and the alternative made prominent.
  function fail(state, message, retryUrl, final) {
    stopCamera();
    setState(state);
    say("");
    promptAction.textContent = countdown.textContent = "";
    problem.textContent = message;
    problem.hidden = false;
    startButton.hidden = true;
    retryButton.hidden = Boolean(retryUrl) || Boolean(final);
    retryLink.hidden = !retryUrl || Boolean(final);
    if (retryUrl) retryLink.href = retryUrl;
    alternative.classList.remove("secondary");
    steps.forEach((step) => step.classList.remove("current", "done"));
  }

  function cameraProblem(error) {
    const name = (error && error.name) || "";
    if (["NotAllowedError", "PermissionDeniedError", "SecurityError"].includes(name)) return ["denied", T.denied];
    if (["NotReadableError", "TrackStartError", "AbortError"].includes(name)) return ["busy", T.busy];
    return ["no-camera", T.no_camera];
  }

  async function cameraAvailable() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "unsupported";
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      return devices.some((device) => device.kind === "videoinput") ? "yes" : "no";
    } catch (error) {
      return "yes"; // can't tell: let getUserMedia say
    }
  }

  function grab() {
    canvas.width = Math.min(640, video.videoWidth);
    canvas.height = Math.round((canvas.width * video.videoHeight) / video.videoWidth);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.8);
  }

  function videoReady() {
    if (video.readyState >= 2 && video.videoWidth > 0) return Promise.resolve();
    return new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
  }

  async function perform(step, index, frames) {
    const label = step.textContent;
    steps.forEach((other) => other.classList.toggle("current", other === step));
    setState("ready");
    promptAction.textContent = `${T.ready} · ${label}`;
    say(T.step_of.replace("{n}", index + 1).replace("{total}", steps.length) + "：" + label);
    for (let left = READY_STEPS; left > 0; left--) {
      countdown.textContent = String(left);
      await sleep(READY_STEP_MS);
    }
    setState("action");
    promptAction.textContent = `${T.now}：${label}`;
    for (let tick = 0; tick < ACTION_FRAMES; tick++) {
      const leftMs = (ACTION_FRAMES - tick) * ACTION_TICK_MS;
      countdown.textContent = T.seconds.replace("{n}", (leftMs / 1000).toFixed(1));
      progress.style.width = `${(100 * leftMs) / (ACTION_FRAMES * ACTION_TICK_MS)}%`;
      await sleep(ACTION_TICK_MS);
      frames.push(grab());
    }
    progress.style.width = "0%";
    countdown.textContent = "✓";
    for (let i = 0; i < REST_FRAMES; i++) {
      await sleep(REST_TICK_MS);
      frames.push(grab());
    }
    step.classList.remove("current");
    step.classList.add("done");
  }

  // A fresh challenge for every attempt: the server hands it out once and takes it back with the frames.
  async function challenge() {
    const response = await fetch("/stepup/face/challenge", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ flow, csrf }),
    });
    const issued = await response.json();
    if (!issued.challenge) return issued;
    list.textContent = "";
    steps = issued.challenge.map((item) => {
      const li = document.createElement("li");
      li.dataset.action = item.action;
      li.textContent = item.label;
      list.append(li);
      return li;
    });
    return null;
  }

  async function run() {
    problem.hidden = true;
    startButton.hidden = retryButton.hidden = retryLink.hidden = true;
    alternative.classList.add("secondary");
    setState("starting");
    say(T.starting);
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    } catch (error) {
      const [state, message] = cameraProblem(error);
      fail(state, message);
      return;
    }
    video.srcObject = stream;
    await videoReady();
    // Only once the camera works: a challenge is counted against the person's face checks for the day.
    let refused;
    try {
      refused = await challenge();
    } catch (error) {
      fail("failed", T.network, location.href);
      return;
    }
    if (refused) {
      fail("failed", refused.error || T.failed, null, true);
      return;
    }
    setState("guide");
    say(T.guide);
    await sleep(SETTLE_MS);
    const frames = [grab(), grab()];
    for (const [index, step] of steps.entries()) await perform(step, index, frames);
    stopCamera();
    setState("checking");
    promptAction.textContent = countdown.textContent = "";
    say(T.checking);
    let response, result;
    try {
      response = await fetch("/stepup/face", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ flow, csrf, frames }),
      });
      result = await response.json();
    } catch (error) {
      fail("failed", T.network, location.href);
      return;
    }
    if (result.redirect) {
      setState("done");
      location.href = result.redirect;
      return;
    }
    fail("failed", result.error || T.failed, null, !result.retry);
  }

  startButton.addEventListener("click", run);
  retryButton.addEventListener("click", run);
  cameraAvailable().then((available) => {
    if (available === "unsupported") fail("unsupported", T.unsupported);
    else if (available === "no") fail("no-camera", T.no_camera);
  });
})();
