// Live consult call: camera and microphone, a direct browser-to-browser connection to the other
// side, and (while the physician has AR on) a second connection to the server's AR media process.
//
// Signalling goes over the portal's HTTP routes (core/live/http.py), authorised by the call pass
// the page gives this component. The physician's browser always makes the offers and the patient's
// answers, so the two never offer at once. A dropped connection is repaired here, without a page
// reload: ICE restart first, a fresh connection if that does not help, and both people read
// "reconnecting" meanwhile. Everything the browser measures goes to /stats every two seconds.
"use strict";
(() => {
  const PHYSICIAN = "physician";
  const STATS_PERIOD_MS = 2000;
  const WATCH_PERIOD_MS = 500;
  const DISCONNECT_GRACE_MS = 2000; // Chrome reports "disconnected" after brief gaps; wait first
  const RESTART_EVERY_MS = 4000; // at most one ICE restart per this period
  const FRESH_CONNECTION_AFTER_MS = 12000; // still not connected: start a new connection
  const HELLO_EVERY_MS = 3000;

  const $ = (id) => document.getElementById(id);
  const el = {
    stage: $("stage"), status: $("status"),
    remote: $("remote"), remoteTile: $("remote-tile"), remoteLabel: $("remote-label"),
    ar: $("ar"), arTile: $("ar-tile"), arLabel: $("ar-label"),
    local: $("local"), localTile: $("local-tile"), localLabel: $("local-label"),
    camera: $("camera-btn"), mic: $("mic-btn"), sound: $("sound-btn"), retry: $("retry-btn"),
    snapshot: $("snapshot-btn"),
  };

  let args = null;
  let started = false;
  let stopped = false;
  let localStream = null;
  let cameraError = null;
  let state = null;
  let after = -1;
  let stateDigest = "";
  let pollFailures = 0;

  // Direct connection (P2P). pcId names one RTCPeerConnection of the physician's; the patient
  // follows it, so an offer or answer for an older connection is ignored.
  let pc = null;
  let pcId = null;
  let connectedOnce = false;
  let troubleSince = null;
  let lastRestartAt = 0;
  let lastHelloAt = 0;
  let answeredBy = null; // the patient component (session) that answered the current connection
  const session = Math.random().toString(36).slice(2) + Date.now().toString(36);

  // AR leg (to the server).
  let arPc = null;
  let arStarting = false;
  let arRetryAt = 0;

  const counters = { reconnects: 0, ice_restarts: 0, fresh_connections: 0, state_changes: [], errors: [] };
  const displayed = {};
  let stampSamples = [];

  // --- Streamlit component protocol (no build step: the three messages it needs) --------------
  function toStreamlit(type, data) {
    window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
  }
  function setHeight() {
    toStreamlit("streamlit:setFrameHeight", { height: Math.ceil(document.documentElement.scrollHeight) + 2 });
  }
  new ResizeObserver(setHeight).observe(document.body);
  window.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type !== "streamlit:render") return;
    args = data.args;
    // The page's language and direction (Arabic: right to left, the status line wraps as it reads).
    if (args.lang) document.documentElement.lang = args.lang;
    if (args.dir) document.documentElement.dir = args.dir;
    if (!started) {
      started = true;
      start();
    }
  });
  toStreamlit("streamlit:componentReady", { apiVersion: 1 });

  const isPhysician = () => args.role === PHYSICIAN;
  const text = (key, fallback) => (args.labels && args.labels[key]) || fallback;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function say(message, tone = "info") {
    if (el.status.textContent !== message) el.status.textContent = message;
    el.status.dataset.tone = tone;
    setHeight(); // a longer message may take another line: the frame grows with it
  }
  function note(where, error) {
    const message = `${where}: ${error && error.message ? error.message : error}`;
    counters.errors.push(message);
    if (counters.errors.length > 20) counters.errors.shift();
    console.warn("live call", message);
  }
  function logState(leg, value) {
    counters.state_changes.push({ leg, state: value, t: Date.now() });
    if (counters.state_changes.length > 100) counters.state_changes.shift();
  }

  // --- HTTP -----------------------------------------------------------------------------------
  async function api(path, options = {}) {
    const response = await fetch(args.api + path, {
      ...options,
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-Call-Pass": args.call_pass },
    });
    if (response.status === 204) return null;
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(body.error || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });
  const signal = (message) => post("/signal", { ...message, session }).catch((error) => note("signal", error));

  function rtcConfig() {
    return { iceServers: args.ice_servers || [], iceTransportPolicy: args.ice_transport_policy || "all" };
  }

  // --- camera and microphone -------------------------------------------------------------------
  async function openCamera() {
    const video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    cameraError = null;
    const attempts = [{ video, audio }, { video }, { audio }];
    for (const constraints of attempts) {
      try {
        localStream = await navigator.mediaDevices.getUserMedia(constraints);
        break;
      } catch (error) {
        cameraError = cameraError || error;
        if (error.name !== "NotFoundError" && error.name !== "OverconstrainedError") break;
      }
    }
    if (!localStream) {
      const reasons = {
        NotAllowedError: text("camera_blocked", "The browser blocked the camera and microphone. Allow them (camera icon in the address bar), then press Try again."),
        NotFoundError: text("camera_missing", "No camera or microphone was found. Connect one, then press Try again."),
        NotReadableError: text("camera_busy", "Another program is using the camera. Close it, then press Try again."),
      };
      say(reasons[cameraError && cameraError.name] || text("camera_failed", "The camera could not start. Press Try again."), "error");
      el.retry.hidden = false;
      return false;
    }
    cameraError = null;
    el.retry.hidden = true;
    el.local.srcObject = localStream;
    return true;
  }

  function track(kind) {
    return localStream ? localStream.getTracks().find((t) => t.kind === kind) : undefined;
  }

  function renderButtons() {
    const camera = track("video");
    const mic = track("audio");
    el.camera.hidden = !camera;
    el.mic.hidden = !mic;
    if (camera) {
      el.camera.textContent = camera.enabled ? text("camera_off", "Turn camera off") : text("camera_on", "Turn camera on");
      el.camera.setAttribute("aria-pressed", String(!camera.enabled));
    }
    if (mic) {
      el.mic.textContent = mic.enabled ? text("mute", "Mute microphone") : text("unmute", "Unmute microphone");
      el.mic.setAttribute("aria-pressed", String(!mic.enabled));
    }
    el.sound.textContent = text("sound_on", "Turn on sound");
    el.snapshot.textContent = text("snapshot", "Snapshot to case");
    el.snapshot.hidden = !(isPhysician() && state && state.in_call && !stopped);
    el.retry.textContent = text("retry", "Try again");
  }

  el.camera.addEventListener("click", () => {
    const camera = track("video");
    if (camera) camera.enabled = !camera.enabled;
    renderButtons();
  });
  el.mic.addEventListener("click", () => {
    const mic = track("audio");
    if (mic) mic.enabled = !mic.enabled;
    renderButtons();
  });
  el.sound.addEventListener("click", () => {
    el.remote.muted = false;
    el.remote.play().catch((error) => note("sound", error));
    el.sound.hidden = true;
  });
  el.retry.addEventListener("click", async () => {
    if (await openCamera()) {
      renderButtons();
      resetConnection("camera retry");
    }
  });

  // The physician's snapshot: the patient's picture as shown, and the AR view (with its mark) when
  // it is on screen; the page stores them in the case.
  let snapshots = 0;
  function frameAsPng(video) {
    if (!video.videoWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return canvas.toDataURL("image/png");
  }
  el.snapshot.addEventListener("click", () => {
    // With the AR view on screen the direct video is paused: the server keeps the raw frame.
    const simulated = el.arTile.hidden ? null : frameAsPng(el.ar);
    const raw = simulated ? null : frameAsPng(el.remote);
    if (!raw && !simulated) {
      say(text("snapshot_none", "No video from the patient yet."), "warn");
      return;
    }
    snapshots += 1;
    toStreamlit("streamlit:setComponentValue", { value: { snapshot: { id: `${session}-${snapshots}`, raw, simulated } }, dataType: "json" });
  });

  // Remote video with sound: a browser that refuses to autoplay sound gets a button instead.
  function playRemote() {
    el.remote.muted = false;
    el.remote.play().catch(() => {
      el.remote.muted = true;
      el.remote.play().catch((error) => note("play", error));
      el.sound.hidden = false;
    });
  }

  // --- direct connection -----------------------------------------------------------------------
  function newPeer(id) {
    closePeer();
    pcId = id;
    troubleSince = null;
    const peer = new RTCPeerConnection(rtcConfig());
    pc = peer;
    if (localStream) for (const t of localStream.getTracks()) peer.addTrack(t, localStream);
    for (const kind of ["audio", "video"]) {
      if (!track(kind)) peer.addTransceiver(kind, { direction: "recvonly" });
    }
    peer.ontrack = (event) => {
      if (peer !== pc) return;
      const stream = event.streams[0] || new MediaStream([event.track]);
      if (el.remote.srcObject !== stream) {
        el.remote.srcObject = stream;
        resetDisplayed("remote");
        playRemote();
      }
    };
    peer.onconnectionstatechange = () => {
      if (peer !== pc) return;
      logState("p2p", peer.connectionState);
      if (peer.connectionState === "connected") {
        if (connectedOnce && troubleSince !== null) counters.reconnects += 1;
        connectedOnce = true;
        troubleSince = null;
      } else if (troubleSince === null) {
        troubleSince = Date.now();
      }
      render();
    };
    return peer;
  }

  function closePeer() {
    if (pc) {
      const old = pc;
      pc = null;
      try { old.close(); } catch (error) { note("close", error); }
    }
    pcId = null;
  }

  // Offers and answers carry all their ICE candidates (no trickle): one message each way sets up
  // or repairs a connection, and nothing is lost when a page starts listening late.
  async function offer(iceRestart) {
    const peer = pc;
    const id = pcId;
    if (!peer) return;
    try {
      if (peer.signalingState === "have-local-offer") await peer.setLocalDescription({ type: "rollback" });
      await peer.setLocalDescription(await peer.createOffer({ iceRestart }));
      await iceGathered(peer, 3000);
      if (peer === pc) signal({ type: "offer", pc_id: id, sdp: peer.localDescription.sdp });
    } catch (error) {
      note("offer", error);
    }
  }

  function resetConnection(reason) {
    if (!state || !state.in_call) return;
    if (isPhysician()) {
      counters.fresh_connections += 1;
      logState("p2p", `fresh (${reason})`);
      newPeer(`${session}-${Date.now().toString(36)}`);
      answeredBy = null;
      offer(false);
    } else {
      closePeer();
      lastHelloAt = 0; // the physician offers again when it hears from us
    }
  }

  async function onMessage(message) {
    if (message.type === "hello" && isPhysician()) {
      // The patient has no working connection (new page, or its connection failed or was lost).
      if (pc && message.pc_id === pcId && pc.connectionState === "connected") return; // a stale hello
      if (pc && answeredBy === null && !message.pc_id && pc.signalingState === "have-local-offer") {
        signal({ type: "offer", pc_id: pcId, sdp: pc.localDescription.sdp }); // it missed the offer
      } else {
        resetConnection("patient hello");
      }
    } else if (message.type === "restart" && isPhysician()) {
      if (pc && message.pc_id === pcId) restartIce();
    } else if (message.type === "offer" && !isPhysician()) {
      if (message.pc_id !== pcId) newPeer(message.pc_id);
      const peer = pc;
      try {
        await peer.setRemoteDescription({ type: "offer", sdp: message.sdp });
        await peer.setLocalDescription(await peer.createAnswer());
        await iceGathered(peer, 3000);
        if (peer === pc) signal({ type: "answer", pc_id: message.pc_id, sdp: peer.localDescription.sdp });
      } catch (error) {
        note("answer", error);
      }
    } else if (message.type === "answer" && isPhysician()) {
      if (!pc || message.pc_id !== pcId || pc.signalingState !== "have-local-offer") return;
      try {
        await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        answeredBy = message.session;
      } catch (error) {
        note("answer", error);
      }
    }
  }

  function restartIce() {
    const now = Date.now();
    if (!pc || now - lastRestartAt < RESTART_EVERY_MS) return;
    lastRestartAt = now;
    counters.ice_restarts += 1;
    logState("p2p", "ice-restart");
    offer(true);
  }

  // Runs twice a second: repairs the direct connection, keeps the AR leg in line with the state.
  function watch() {
    if (stopped || !state) return;
    const now = Date.now();
    if (state.in_call) {
      if (isPhysician()) {
        if (!pc) resetConnection("start");
        else if (troubleSince !== null) {
          const broken = pc.connectionState === "failed" || pc.connectionState === "disconnected";
          if (broken && now - troubleSince > DISCONNECT_GRACE_MS) restartIce();
          if (now - troubleSince > FRESH_CONNECTION_AFTER_MS) resetConnection("no connection");
        }
      } else if (!pc || (pc.connectionState !== "connected" && troubleSince !== null && now - troubleSince > FRESH_CONNECTION_AFTER_MS)) {
        if (now - lastHelloAt > HELLO_EVERY_MS) {
          lastHelloAt = now;
          signal({ type: "hello", pc_id: pcId });
        }
      } else if (
        (pc.connectionState === "failed" || pc.connectionState === "disconnected") &&
        troubleSince !== null && now - troubleSince > DISCONNECT_GRACE_MS && now - lastRestartAt > RESTART_EVERY_MS
      ) {
        lastRestartAt = now;
        signal({ type: "restart", pc_id: pcId });
      }
    }
    syncAR(now);
    pauseDirectVideoDuringAR();
    render();
  }

  // While the physician watches the AR view, the patient's camera reaches the physician through
  // the server only: the direct video pauses (sound goes on), which saves one encode in the
  // patient's browser and one decode in the physician's. It resumes as soon as AR is off or the
  // AR leg fails, so the physician is never left without a picture.
  function pauseDirectVideoDuringAR() {
    if (isPhysician() || !pc) return;
    const pause = Boolean(state && state.in_call && state.ar.patient_upload && arPc && arPc.connectionState === "connected");
    const sender = pc.getSenders().find((candidate) => candidate.track && candidate.track.kind === "video");
    if (!sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length || parameters.encodings[0].active === !pause) return;
    parameters.encodings[0].active = !pause;
    sender.setParameters(parameters).catch((error) => note("pause video", error));
    logState("p2p", pause ? "video paused for AR" : "video resumed");
  }

  // --- AR leg ------------------------------------------------------------------------------------
  function arWanted() {
    if (!state || !state.in_call) return false;
    return isPhysician() ? state.ar.physician_view : state.ar.patient_upload;
  }

  function syncAR(now) {
    if (arWanted()) {
      if (!arPc && !arStarting && now >= arRetryAt) startAR();
    } else if (arPc) {
      closeAR();
    }
  }

  function iceGathered(peer, timeoutMs) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (peer.iceGatheringState === "complete") resolve();
      };
      peer.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, timeoutMs);
    });
  }

  async function startAR() {
    arStarting = true;
    const peer = new RTCPeerConnection(rtcConfig());
    try {
      if (isPhysician()) {
        peer.addTransceiver("video", { direction: "recvonly" });
      } else {
        const camera = track("video");
        if (!camera) throw new Error("no camera for the AR preview");
        peer.addTransceiver(camera, { direction: "sendrecv", streams: [localStream] });
      }
      peer.ontrack = (event) => {
        el.ar.srcObject = new MediaStream([event.track]);
        resetDisplayed("ar");
      };
      peer.onconnectionstatechange = () => {
        logState("ar", peer.connectionState);
        if (peer === arPc && (peer.connectionState === "failed" || peer.connectionState === "closed")) {
          closeAR();
          arRetryAt = Date.now() + 2000;
        }
      };
      await peer.setLocalDescription(await peer.createOffer());
      await iceGathered(peer, 3000);
      const answer = await post("/ar", { sdp: peer.localDescription.sdp });
      if (!arWanted()) throw new Error("AR was turned off meanwhile");
      await peer.setRemoteDescription(answer);
      arPc = peer;
    } catch (error) {
      try { peer.close(); } catch (closeError) { note("ar close", closeError); }
      if (error.status !== 409) note("ar", error);
      arRetryAt = Date.now() + 3000;
    } finally {
      arStarting = false;
      render();
    }
  }

  function closeAR() {
    const old = arPc;
    arPc = null;
    el.ar.srcObject = null;
    if (old) {
      try { old.close(); } catch (error) { note("ar close", error); }
    }
  }

  // --- what the person sees ------------------------------------------------------------------
  function render() {
    if (!args) return;
    renderButtons();
    const inCall = Boolean(state && state.in_call);
    const arPlaying = Boolean(arPc && el.ar.srcObject && el.ar.readyState >= 2);
    const showAR = inCall && arPlaying && (isPhysician() ? state.ar.physician_view : state.ar.patient_shared);
    // The physician's AR view replaces the direct video (its sound keeps playing); the patient
    // sees the shared simulation beside the physician.
    const showRemote = inCall && !(isPhysician() && showAR);
    setHidden(el.remoteTile, !showRemote, "remote");
    setHidden(el.arTile, !showAR, "ar");
    el.stage.classList.toggle("in-call", inCall);
    el.stage.classList.toggle("two", showRemote && showAR);
    el.remoteLabel.textContent = text(isPhysician() ? "remote_patient" : "remote_physician", isPhysician() ? "Patient" : "Your physician");
    el.arLabel.textContent = text(isPhysician() ? "ar_physician" : "ar_patient", "Simulation - not a guaranteed result");
    el.localLabel.textContent = text("you", "You");

    if (stopped || cameraError) return;
    if (!state) say(text("connecting", "Connecting ..."));
    else if (state.status === "waiting") say(text("waiting", "Your camera is ready. Waiting to be let in ..."));
    else if (!state.other_present) say(text(isPhysician() ? "waiting_for_patient" : "waiting_for_physician", "Waiting for the other person ..."));
    else if (!pc || !connectedOnce) say(text("connecting", "Connecting ..."));
    else if (pc.connectionState !== "connected") say(text("reconnecting", "Connection interrupted - reconnecting ..."), "warn");
    else if (arWanted() && !showAR && isPhysician()) say(text("ar_starting", "Starting the AR preview ..."));
    else say(text("connected", "Connected"));
  }

  function setHidden(node, hidden, name) {
    if (node.hidden === hidden) return;
    node.hidden = hidden;
    resetDisplayed(name); // a hidden video presents no frames: that is no freeze
  }

  // --- measurements ----------------------------------------------------------------------------
  function resetDisplayed(name) {
    const tracker = displayed[name];
    if (tracker) tracker.last = null;
  }

  function trackDisplayed(video, name) {
    // longest gap and freezes (gaps over 500 ms) are counted since the last stats report.
    const tracker = { frames: 0, last: null, longest_gap_ms: 0, freezes: 0, recent: [] };
    displayed[name] = tracker;
    const onFrame = (now, meta) => {
      tracker.frames += 1;
      if (tracker.last !== null) {
        const gap = now - tracker.last;
        tracker.longest_gap_ms = Math.max(tracker.longest_gap_ms, gap);
        if (gap > 500) tracker.freezes += 1;
      }
      tracker.last = now;
      tracker.recent.push(now);
      while (tracker.recent.length && now - tracker.recent[0] > 2000) tracker.recent.shift();
      tracker.width = meta.width;
      tracker.height = meta.height;
      if (args && args.probe_stamps && probed(name)) readStamp(video, name, now);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  // Benchmark only: the test video carries its frame number as 16 black/white blocks in the top
  // left corner; reading it where it is shown gives glass-to-glass latency between two browsers.
  const stampCanvas = document.createElement("canvas");
  stampCanvas.width = 16 * 16 + 16;
  stampCanvas.height = 24;
  const stampContext = stampCanvas.getContext("2d", { willReadFrequently: true });
  // Only what the latency needs: the patient's own preview, and what the physician is shown.
  const probed = (name) => (isPhysician() ? name !== "local" : name === "local");
  function readStamp(video, name, now) {
    if (!video.videoWidth) return;
    const scale = video.videoWidth / 640;
    stampContext.drawImage(video, 0, 0, stampCanvas.width * scale, stampCanvas.height * scale, 0, 0, stampCanvas.width, stampCanvas.height);
    const pixels = stampContext.getImageData(0, 0, stampCanvas.width, stampCanvas.height).data;
    let code = 0;
    for (let bit = 0; bit < 16; bit += 1) {
      const x = 8 + bit * 16 + 8;
      const offset = (16 * stampCanvas.width + x) * 4;
      const luma = 0.299 * pixels[offset] + 0.587 * pixels[offset + 1] + 0.114 * pixels[offset + 2];
      if (luma > 128) code |= 1 << bit;
    }
    stampSamples.push([name, code, Math.round(performance.timeOrigin + now)]);
  }

  async function rtpStats(peer) {
    if (!peer) return null;
    const out = { state: peer.connectionState };
    const report = await peer.getStats();
    const byId = new Map();
    report.forEach((entry) => byId.set(entry.id, entry));
    report.forEach((entry) => {
      if (entry.type === "inbound-rtp" && entry.kind === "video") {
        out.inbound = {
          fps: entry.framesPerSecond || 0, frames_decoded: entry.framesDecoded || 0,
          freeze_count: entry.freezeCount || 0, total_freezes_s: entry.totalFreezesDuration || 0,
          width: entry.frameWidth || 0, height: entry.frameHeight || 0, packets_lost: entry.packetsLost || 0,
        };
      } else if (entry.type === "outbound-rtp" && entry.kind === "video") {
        out.outbound = {
          fps: entry.framesPerSecond || 0, frames_sent: entry.framesSent || 0,
          width: entry.frameWidth || 0, height: entry.frameHeight || 0,
          limitation: entry.qualityLimitationReason || "none",
        };
      } else if (entry.type === "inbound-rtp" && entry.kind === "audio") {
        out.audio_in = { packets: entry.packetsReceived || 0, level: entry.audioLevel || 0 };
      } else if (entry.type === "media-source" && entry.kind === "audio") {
        out.microphone_level = entry.audioLevel || 0;
      } else if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded") {
        const local = byId.get(entry.localCandidateId) || {};
        const remote = byId.get(entry.remoteCandidateId) || {};
        out.route = { local: local.candidateType, remote: remote.candidateType, rtt_ms: Math.round((entry.currentRoundTripTime || 0) * 1000) };
      }
    });
    return out;
  }

  function displayedSummary(name) {
    const tracker = displayed[name];
    if (!tracker) return null;
    const now = performance.now();
    const fps = tracker.recent.filter((t) => now - t <= 2000).length / 2; // a frozen video reads 0
    const stalled = tracker.last === null ? 0 : now - tracker.last;
    if (stalled > tracker.longest_gap_ms) tracker.longest_gap_ms = stalled; // a freeze still going on
    const summary = { frames: tracker.frames, fps: Math.round(fps * 10) / 10, longest_gap_ms: Math.round(tracker.longest_gap_ms), freezes: tracker.freezes, width: tracker.width || 0, height: tracker.height || 0 };
    tracker.longest_gap_ms = 0;
    tracker.freezes = 0;
    return summary;
  }

  async function reportStats() {
    while (!stopped) {
      await sleep(STATS_PERIOD_MS);
      try {
        const camera = track("video");
        const mic = track("audio");
        const local = displayedSummary("local");
        const report = {
          role: args.role,
          camera: { ok: Boolean(camera && camera.readyState === "live" && local && local.frames > 0), enabled: Boolean(camera && camera.enabled), error: cameraError ? cameraError.name : null },
          microphone: { ok: Boolean(mic && mic.readyState === "live" && !mic.muted), enabled: Boolean(mic && mic.enabled) },
          p2p: await rtpStats(pc),
          ar: await rtpStats(arPc),
          displayed: { local, remote: displayedSummary("remote"), ar: displayedSummary("ar") },
          counters,
        };
        if (args.probe_stamps) {
          report.stamps = stampSamples;
          stampSamples = [];
        }
        await post("/stats", report);
      } catch (error) {
        if (!stopped) note("stats", error);
      }
    }
  }

  // --- call state --------------------------------------------------------------------------------
  function endCall(message) {
    stopped = true;
    closeAR();
    closePeer();
    if (localStream) for (const t of localStream.getTracks()) t.stop();
    el.remoteTile.hidden = true;
    el.arTile.hidden = true;
    el.localTile.hidden = true;
    el.camera.hidden = true;
    el.mic.hidden = true;
    el.sound.hidden = true;
    say(message);
  }

  async function pollLoop() {
    while (!stopped) {
      try {
        const reply = await api(`/poll?after=${after}&state=${stateDigest}&wait=15`);
        pollFailures = 0;
        if (!reply) continue;
        after = reply.after;
        stateDigest = reply.state_digest;
        state = reply.state;
        if (state.status === "ended") {
          endCall(text("ended", "This consult has ended."));
          return;
        }
        if (!state.in_call && pc) closePeer();
        for (const message of reply.messages) await onMessage(message);
        watch();
      } catch (error) {
        pollFailures += 1;
        if (error.status === 403) {
          endCall(error.message);
          return;
        }
        if (pollFailures > 2) say(text("server_lost", "The connection to the clinic is interrupted - retrying ..."), "warn");
        await sleep(Math.min(5000, 500 * pollFailures));
      }
    }
  }

  // For the browser tests: lose this side's connection the way a network change does.
  window.liveCallTestHooks = {
    dropConnection() {
      logState("p2p", "dropped (test)");
      closePeer();
    },
  };

  async function start() {
    renderButtons();
    say(text("camera_starting", "Starting your camera ..."));
    for (const [video, name] of [[el.local, "local"], [el.remote, "remote"], [el.ar, "ar"]]) trackDisplayed(video, name);
    el.ar.addEventListener("playing", render);
    await openCamera();
    renderButtons();
    render();
    setInterval(watch, WATCH_PERIOD_MS);
    reportStats();
    pollLoop();
  }
})();
