// The call of a conversation, in the browser: WebRTC between its two participants, with
// signalling over the hall's live connection (call.signal, see docs/protocol.md and
// docs/video.md).
//
// Who does what: the advisor's page makes every offer (also to restart the connection); the
// candidate's page answers. Each side has a "peer" id: the candidate's page one per page
// load, the advisor's page one per peer connection it makes. A message for another id is for
// an earlier page or connection and is dropped; an offer from a new id means a new
// connection. So a reloaded page is recognised and the connection made again from scratch,
// and whatever got lost on the way, a connection that does not come up is simply made anew.
// Nothing here decides when the conversation ends: the server does; this page follows it.

import { announce, connect, isConnected, readJson, send, t, texts } from "./live.js";
import { startCountdown } from "./countdown.js";
import { clock, safeUrl } from "./format.js";

const root = document.getElementById("call");
const token = root.dataset.token;
const role = root.dataset.role;
const conversationId = Number(root.dataset.conversationId);
const offerer = role === "advisor";
const iceConfig = readJson("call-ice");
// The call page's own texts join the shared ones that t() reads.
Object.assign(texts, readJson("call-texts"));

// A peer connection that is not connected this long after an offer gets a fresh one.
const STALL_MS = 8000;
// "disconnected" often heals by itself; after this long the connection is restarted.
const DISCONNECTED_MS = 2500;
const STATS_MS = 1000;

const localVideo = document.getElementById("local-video");
const remoteVideo = document.getElementById("remote-video");
const stateLine = root.querySelector('[data-testid="call-state"]');
const warningLine = root.querySelector('[data-testid="call-warning"]');
const problemLine = root.querySelector('[data-testid="call-problem"]');
const remoteNote = root.querySelector('[data-testid="remote-note"]');
const localNote = root.querySelector('[data-testid="local-note"]');
const micButton = root.querySelector('[data-control="mic"]');
const cameraButton = root.querySelector('[data-control="camera"]');
const audioOnlyButton = root.querySelector('[data-control="audio-only"]');
const cameraSelect = document.getElementById("camera-select");
const micSelect = document.getElementById("mic-select");
const notice = root.querySelector('[data-testid="fallback-notice"]');
const fullscreenButton = root.querySelector('[data-control="fullscreen"]');

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const pageId = randomId();
let generation = 0;
let peer = pageId;

// -- what this side sends ------------------------------------------------------------------

const media = {
  audio: null, // the microphone track
  video: null, // the camera track (null while the camera is off)
  micOn: true,
  cameraOn: true,
  audioOnly: false, // this side chose audio only: no video either way
  otherAudioOnly: false, // the other side chose audio only: send them no video
  cameraId: "",
  micId: "",
};
const preview = new MediaStream();
localVideo.srcObject = preview;

function wantVideo() {
  return media.cameraOn && !media.audioOnly;
}

function sendsVideo() {
  return wantVideo() && !media.otherAudioOnly;
}

async function capture(kind) {
  const id = kind === "audio" ? media.micId : media.cameraId;
  const constraints =
    kind === "audio"
      ? { audio: id ? { deviceId: { exact: id } } : true }
      : { video: id ? { deviceId: { exact: id } } : { width: { ideal: 640 }, height: { ideal: 480 } } };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return stream.getTracks()[0];
}

function showPreview() {
  for (const track of preview.getTracks()) preview.removeTrack(track);
  if (media.video) preview.addTrack(media.video);
  // What the preview shows instead of one's picture: "Alleen geluid", or "Camera uit".
  localNote.textContent = wantVideo() ? "" : t(media.audioOnly ? "audio_only_off" : "camera_on");
}

// Put what this side sends on the connection's senders (no new negotiation needed).
async function applySenders() {
  if (!pc) return;
  for (const transceiver of pc.getTransceivers()) {
    const kind = transceiver.receiver.track?.kind;
    if (!kind || transceiver.stopped) continue;
    let track = null;
    if (kind === "audio" && media.micOn) track = media.audio;
    if (kind === "video" && sendsVideo()) track = media.video;
    if (transceiver.sender.track !== track) {
      try {
        await transceiver.sender.replaceTrack(track);
      } catch (error) {
        console.error("replaceTrack failed", error);
      }
    }
  }
}

async function startMedia() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
    });
    media.audio = stream.getAudioTracks()[0] ?? null;
    media.video = stream.getVideoTracks()[0] ?? null;
    media.micId = media.audio?.getSettings().deviceId ?? "";
    media.cameraId = media.video?.getSettings().deviceId ?? "";
  } catch {
    // Ask once; without camera or microphone the call still shows and hears the other side.
    showProblem(t("no_media"));
    openPanel(document.getElementById("call-fallbacks"), { focus: false });
  }
  showPreview();
  await listDevices();
  for (const button of [micButton, cameraButton, audioOnlyButton]) button.disabled = false;
  micButton.disabled = !media.audio;
  cameraButton.disabled = !media.video;
  renderControls();
}

async function listDevices() {
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  fillSelect(cameraSelect, devices.filter((d) => d.kind === "videoinput"), media.cameraId, "camera_n");
  fillSelect(micSelect, devices.filter((d) => d.kind === "audioinput"), media.micId, "microphone_n");
}

function fillSelect(select, devices, chosen, numbered) {
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || t(numbered, { n: index + 1 });
    option.selected = device.deviceId === chosen;
    return option;
  });
  select.replaceChildren(...options);
  select.disabled = options.length < 2;
}

async function switchDevice(kind, deviceId) {
  if (kind === "audio") media.micId = deviceId;
  else media.cameraId = deviceId;
  if (kind === "video" && !wantVideo()) return;
  try {
    const track = await capture(kind);
    const old = media[kind];
    media[kind] = track;
    if (kind === "audio") track.enabled = true;
    old?.stop();
    showPreview();
    await applySenders();
  } catch {
    showProblem(t("no_media"));
  }
}

async function setCamera(on) {
  media.cameraOn = on;
  await refreshCamera();
  tellMedia();
}

async function setAudioOnly(on) {
  media.audioOnly = on;
  await refreshCamera();
  tellMedia();
}

// The camera is on exactly while this side wants video: off, its light goes out too.
async function refreshCamera() {
  if (wantVideo() && !media.video) {
    try {
      media.video = await capture("video");
    } catch {
      media.cameraOn = false;
      showProblem(t("no_media"));
    }
  } else if (!wantVideo() && media.video) {
    media.video.stop();
    media.video = null;
  }
  showPreview();
  renderControls();
  await applySenders();
}

async function setMic(on) {
  media.micOn = on;
  renderControls();
  await applySenders();
  tellMedia();
}

// A control's text sits next to its icon: only the text changes.
function setLabel(button, text) {
  const label = button.querySelector('[data-field="label"]') ?? button;
  if (label.textContent !== text) label.textContent = text;
}

function renderControls() {
  micButton.setAttribute("aria-pressed", String(!media.micOn));
  setLabel(micButton, t(media.micOn ? "mic_on" : "mic_off"));
  cameraButton.setAttribute("aria-pressed", String(!media.cameraOn));
  setLabel(cameraButton, t(media.cameraOn ? "camera_on" : "camera_off"));
  cameraButton.disabled = media.audioOnly || (!media.video && !media.cameraOn && !media.cameraId);
  audioOnlyButton.setAttribute("aria-pressed", String(media.audioOnly));
  setLabel(audioOnlyButton, t(media.audioOnly ? "audio_only_on" : "audio_only_off"));
  root.dataset.mic = media.micOn ? "on" : "off";
  root.dataset.camera = wantVideo() ? "on" : "off";
}

micButton.addEventListener("click", () => setMic(!media.micOn));
cameraButton.addEventListener("click", () => setCamera(!media.cameraOn));
audioOnlyButton.addEventListener("click", () => setAudioOnly(!media.audioOnly));
cameraSelect.addEventListener("change", () => switchDevice("video", cameraSelect.value));
micSelect.addEventListener("change", () => switchDevice("audio", micSelect.value));

// -- the screen: panels over the picture, and full screen -----------------------------------

// A panel (the devices, the other ways to talk) opens over the picture from its button in
// the controls; one at a time. Opened by a person, it comes into sight and takes the focus
// to its title; Escape or its close button puts it away and the focus back on its button.
const panelButtons = [...root.querySelectorAll("[data-panel]")];

function buttonOf(panel) {
  return panelButtons.find((button) => button.dataset.panel === panel.id);
}

function openPanel(panel, { focus = true } = {}) {
  for (const button of panelButtons) {
    const other = document.getElementById(button.dataset.panel);
    if (other !== panel && !other.hidden) closePanel(other, { focus: false });
  }
  panel.hidden = false;
  buttonOf(panel)?.setAttribute("aria-expanded", "true");
  if (focus) {
    // The panel as a whole in sight, over the messages above it (they scroll back).
    panel.scrollIntoView({ block: "start" });
    panel.querySelector("h2").focus({ preventScroll: true });
  }
}

function closePanel(panel, { focus = true } = {}) {
  if (panel.hidden) return;
  const hadFocus = panel.contains(document.activeElement);
  panel.hidden = true;
  const button = buttonOf(panel);
  button?.setAttribute("aria-expanded", "false");
  if (focus || hadFocus) button?.focus();
}

function openedPanel() {
  return panelButtons.map((b) => document.getElementById(b.dataset.panel)).find((p) => !p.hidden);
}

for (const button of panelButtons) {
  button.addEventListener("click", () => {
    const panel = document.getElementById(button.dataset.panel);
    if (panel.hidden) openPanel(panel);
    else closePanel(panel);
  });
}

root.addEventListener("click", (event) => {
  const close = event.target.closest("[data-close-panel]");
  if (close) closePanel(close.closest(".call-panel"));
});

// Full screen: the call alone on the whole screen (where the browser can). The button says
// what it does and is pressed while the call is in full screen; Escape leaves it, as the
// browser's own Escape does.
function inFullscreen() {
  return document.fullscreenElement === root;
}

function renderFullscreen() {
  const on = inFullscreen();
  fullscreenButton.setAttribute("aria-pressed", String(on));
  const { labelOn, labelOff } = fullscreenButton.dataset;
  setLabel(fullscreenButton, on ? labelOn : labelOff);
}

async function toggleFullscreen() {
  try {
    if (inFullscreen()) await document.exitFullscreen();
    else await root.requestFullscreen({ navigationUI: "hide" });
  } catch (error) {
    console.error("full screen refused", error);
  }
  renderFullscreen();
}

if (document.fullscreenEnabled && root.requestFullscreen) {
  fullscreenButton.hidden = false;
  fullscreenButton.addEventListener("click", toggleFullscreen);
  document.addEventListener("fullscreenchange", renderFullscreen);
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  const panel = openedPanel();
  if (panel) {
    closePanel(panel, { focus: panel.contains(document.activeElement) });
    event.preventDefault();
  } else if (inFullscreen()) {
    document.exitFullscreen().catch(() => {});
    event.preventDefault();
  }
});

// -- signalling -----------------------------------------------------------------------------

async function signal(kind, data = {}) {
  if (!isConnected() || ended) return;
  try {
    await send("call.signal", { token, kind, peer, ...data });
  } catch (error) {
    if (error?.code === "call.ended" || error?.code === "call.not_found") endCall();
  }
}

function tellMedia() {
  if (!remotePeer) return;
  signal("media", {
    to: remotePeer,
    audio: media.micOn && Boolean(media.audio),
    video: wantVideo() && Boolean(media.video),
    audio_only: media.audioOnly,
  });
}

// -- the peer connection ----------------------------------------------------------------------

let pc = null;
let remotePeer = null;
let remoteStream = null;
let queuedCandidates = [];
let offeredAt = 0;
let disconnectedTimer = null;
let ended = false;
let socketUp = false;

function newConnection() {
  closeConnection();
  pc = new RTCPeerConnection(iceConfig);
  queuedCandidates = [];
  remoteStream = new MediaStream();
  remoteVideo.srcObject = remoteStream;
  const current = pc;
  pc.addEventListener("track", (event) => {
    if (current !== pc) return;
    remoteStream.addTrack(event.track);
    play();
  });
  pc.addEventListener("icecandidate", (event) => {
    if (current !== pc || !remotePeer) return;
    if (!event.candidate) return;
    signal("candidate", {
      to: remotePeer,
      candidate: event.candidate.candidate,
      sdp_mid: event.candidate.sdpMid ?? "",
    });
  });
  pc.addEventListener("connectionstatechange", () => {
    if (current === pc) connectionChanged();
  });
  pc.addEventListener("iceconnectionstatechange", () => {
    if (current === pc) iceChanged();
  });
  if (offerer) {
    generation += 1;
    peer = `${pageId}-${generation}`;
    pc.addTransceiver("audio", { direction: "sendrecv" });
    pc.addTransceiver("video", { direction: "sendrecv" });
  }
  showConnection();
}

// A browser may hold back sound that starts without a click on this page: then one click.
const playButton = root.querySelector('[data-control="play"]');

function play() {
  remoteVideo.play().then(
    () => {
      playButton.hidden = true;
    },
    (error) => {
      if (error?.name === "NotAllowedError") playButton.hidden = false;
    },
  );
}

playButton.addEventListener("click", play);

function closeConnection() {
  window.clearTimeout(disconnectedTimer);
  disconnectedTimer = null;
  if (pc) {
    pc.close();
    pc = null;
  }
}

async function makeOffer({ iceRestart = false } = {}) {
  if (!offerer || !pc || !remotePeer || ended) return;
  if (pc.signalingState !== "stable") {
    // An offer is out. Still fresh: its answer may be on the way. Stale: start anew.
    if (Date.now() - offeredAt < STALL_MS) return;
    newConnection();
  }
  try {
    await applySenders();
    const offer = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(offer);
    offeredAt = Date.now();
    await signal("offer", { to: remotePeer, sdp: pc.localDescription.sdp });
  } catch (error) {
    console.error("offer failed", error);
  }
}

async function takeOffer(from, sdp) {
  if (from !== remotePeer || !pc || pc.signalingState === "closed") {
    remotePeer = from;
    newConnection();
  }
  try {
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const transceiver of pc.getTransceivers()) transceiver.direction = "sendrecv";
    await applySenders();
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await signal("answer", { to: remotePeer, sdp: pc.localDescription.sdp });
    await flushCandidates();
    tellMedia();
  } catch (error) {
    console.error("answer failed", error);
  }
}

async function takeAnswer(from, sdp) {
  if (from !== remotePeer || !pc || pc.signalingState !== "have-local-offer") return;
  try {
    await pc.setRemoteDescription({ type: "answer", sdp });
    await flushCandidates();
  } catch (error) {
    console.error("setting the answer failed", error);
  }
}

async function takeCandidate(from, candidate, sdpMid) {
  if (from !== remotePeer || !pc) return;
  const init = { candidate, sdpMid: sdpMid || "0" };
  if (!pc.remoteDescription) {
    queuedCandidates.push(init);
    return;
  }
  try {
    await pc.addIceCandidate(init);
  } catch (error) {
    console.error("candidate refused", error);
  }
}

async function flushCandidates() {
  const queued = queuedCandidates;
  queuedCandidates = [];
  for (const init of queued) {
    try {
      await pc.addIceCandidate(init);
    } catch (error) {
      console.error("candidate refused", error);
    }
  }
}

// Start the connection again: the advisor's page with an ICE restart, the candidate's page
// by asking the advisor's page for one.
function restart() {
  if (ended || !remotePeer) return;
  if (offerer) makeOffer({ iceRestart: true });
  else signal("restart", { to: remotePeer });
}

function iceChanged() {
  const state = pc.iceConnectionState;
  if (state === "failed") {
    restart();
  } else if (state === "disconnected") {
    window.clearTimeout(disconnectedTimer);
    disconnectedTimer = window.setTimeout(() => {
      if (pc?.iceConnectionState === "disconnected") restart();
    }, DISCONNECTED_MS);
  }
  showConnection();
}

function connectionChanged() {
  if (pc.connectionState === "connected") {
    window.clearTimeout(disconnectedTimer);
    hideProblem();
  } else if (pc.connectionState === "failed") {
    restart();
  }
  showConnection();
}

// connecting, connected, reconnecting (or waiting for the other side).
function connectionState() {
  if (ended) return "ended";
  if (!remotePeer || !pc) return socketUp ? "waiting" : "reconnecting";
  const state = pc.connectionState;
  if (state === "connected") return "connected";
  if (["disconnected", "failed"].includes(state)) return "reconnecting";
  if (!socketUp) return "reconnecting";
  return "connecting";
}

function showConnection() {
  const state = connectionState();
  if (root.dataset.connection === state) return;
  const before = root.dataset.connection;
  root.dataset.connection = state;
  stateLine.textContent = t(`state.${state}`);
  stateLine.dataset.state = state;
  if (state === "connected" || (state === "reconnecting" && before === "connected")) {
    announce(t(`state.${state}`));
  }
}

// Whatever got lost on the way (an offer to a page that was just reloading, an answer in a
// dropped connection), a connection that does not come up is made anew.
window.setInterval(() => {
  if (ended || !offerer || !pc || !remotePeer || !socketUp) return;
  if (pc.connectionState === "connected" || Date.now() - offeredAt < STALL_MS) return;
  newConnection();
  makeOffer();
}, STALL_MS / 2);

// -- what the other side tells ---------------------------------------------------------------

function heard(data) {
  if (data.token !== token || ended) return;
  if (data.to && data.to !== peer) return; // for an earlier page of this participant
  switch (data.kind) {
    case "hello":
      otherArrived(data.peer, !data.to);
      break;
    case "offer":
      if (!offerer) takeOffer(data.peer, data.sdp);
      break;
    case "answer":
      if (offerer) takeAnswer(data.peer, data.sdp);
      break;
    case "candidate":
      if (data.candidate) takeCandidate(data.peer, data.candidate, data.sdp_mid);
      break;
    case "restart":
      if (offerer && data.peer === remotePeer) makeOffer({ iceRestart: true });
      break;
    case "media":
      otherMedia(data);
      break;
    case "bye":
      if (data.peer === remotePeer) {
        remotePeer = null;
        closeConnection();
        remoteNote.textContent = "";
        showConnection();
      }
      break;
    default:
      break;
  }
}

// The other page said hello: a new page (first, or reloaded) gets a new connection; the
// same page back on its live connection gets a restart if the connection is not up.
function otherArrived(from, answerBack) {
  if (answerBack) signal("hello", { to: from });
  if (from !== remotePeer) {
    remotePeer = from;
    media.otherAudioOnly = false;
    newConnection();
    if (offerer) makeOffer();
  } else if (pc && ["disconnected", "failed"].includes(pc.connectionState)) {
    restart();
  }
  tellMedia();
  showConnection();
}

function otherMedia(data) {
  const notes = [];
  if (data.audio_only) notes.push(t("other_audio_only"));
  else if (!data.video) notes.push(t("other_camera_off"));
  if (!data.audio) notes.push(t("other_muted"));
  remoteNote.textContent = notes.join(" ");
  root.dataset.otherMic = data.audio ? "on" : "off";
  root.dataset.otherCamera = data.video ? "on" : "off";
  if (media.otherAudioOnly !== Boolean(data.audio_only)) {
    media.otherAudioOnly = Boolean(data.audio_only);
    applySenders();
  }
}

function fallbackTold(data) {
  if (data.token !== token) return;
  const text = notice.querySelector('[data-field="notice"]');
  const link = notice.querySelector('[data-field="notice-link"]');
  if (data.choice === "phone") {
    text.textContent = t("fallback_phone", { name: data.name, phone: data.phone });
    link.href = `tel:${String(data.phone).replace(/[^0-9+]/g, "")}`;
    const callback = document.querySelector('[data-field="callback-text"]');
    const callbackLink = document.querySelector('[data-field="callback-link"]');
    if (callback) callback.textContent = text.textContent;
    if (callbackLink) {
      callbackLink.href = link.href;
      callbackLink.hidden = false;
    }
  } else {
    const who = t(`who.${data.from}`);
    text.textContent = t(data.choice === "personal" ? "fallback_personal" : "fallback_external", { who });
    link.href = safeUrl(data.url);
  }
  link.hidden = false;
  notice.hidden = false;
  announce(text.textContent, true);
}

// -- the conversation: its timer and its end --------------------------------------------------

// The advisor's choices at the warning: extend (when it can), or book a follow-up.
const endChoices = root.querySelector('[data-testid="end-choices"]');
const extendForm = root.querySelector('[data-action="extend"]');
let extension = null;
let inWindow = false;

function showEndChoices() {
  if (!endChoices) return;
  endChoices.hidden = !inWindow;
  const minutes = extension?.minutes ?? 0;
  extendForm.hidden = !(minutes > 0);
  extendForm.querySelector("button").textContent = t("extend", { n: minutes });
}

const timerElement = root.querySelector('[data-testid="countdown"]');
const countdown = startCountdown(
  timerElement,
  Number(timerElement.dataset.endsAt),
  Number(timerElement.dataset.warningSeconds),
  {
    onWarning() {
      const minutes = Math.round(Number(timerElement.dataset.warningSeconds) / 60);
      warningLine.textContent = t("warning", { n: minutes });
      warningLine.dataset.state = "warning";
      warningLine.hidden = false;
      announce(warningLine.textContent, true);
    },
    onTimeUp() {
      warningLine.textContent = t("time_up");
      warningLine.dataset.state = "time-up";
      warningLine.hidden = false;
      announce(warningLine.textContent, true);
    },
    onWindow(inside) {
      inWindow = inside;
      showEndChoices();
    },
  },
);

function extendTo(endsAt) {
  if (!countdown.setEnd(endsAt)) return;
  const time = clock(endsAt, root.dataset.timezone);
  const endsAtLine = root.querySelector('[data-field="ends-at"]');
  if (endsAtLine) endsAtLine.textContent = t("ends_at", { time });
  warningLine.hidden = true;
  announce(t("extended", { time }), true);
}

extendForm?.addEventListener("submit", async (event) => {
  if (!isConnected()) return; // the form posts as usual
  event.preventDefault();
  const button = extendForm.querySelector("button");
  button.disabled = true;
  try {
    const done = await send("conversation.extend", { conversation_id: conversationId });
    extendTo(done.ends_at);
  } catch (error) {
    showProblem(error.message);
  }
  button.disabled = false;
});

// The state of this participant's conversation, from any state the server pushes. A
// candidate handed on to another booth waits there again: their page shows their new place;
// a new call on this page's kind begins: its page.
function followConversation(conversation, request = null) {
  if (!conversation || conversation.id !== conversationId || conversation.ended_at) {
    endCall();
    if (conversation && !conversation.ended_at && conversation.builtin_call) {
      window.location.assign(new URL(conversation.video_url, window.location.href).href);
    } else if (role === "candidate" && request?.status === "waiting") {
      window.location.assign("/mijn-verzoek");
    }
    return;
  }
  extendTo(conversation.ends_at);
  if (conversation.extension !== undefined) {
    extension = conversation.extension;
    showEndChoices();
  }
}

function endCall() {
  if (ended) return;
  ended = true;
  // The page that follows the call is not in full screen.
  if (inFullscreen()) document.exitFullscreen().catch(() => {});
  closeConnection();
  for (const track of [media.audio, media.video]) track?.stop();
  countdown.stop();
  localVideo.srcObject = null;
  remoteVideo.srcObject = null;
  root.hidden = true;
  root.dataset.connection = "ended";
  const endedPanel = document.querySelector('[data-testid="call-ended"]');
  endedPanel.hidden = false;
  endedPanel.querySelector("h2").focus();
  announce(t("state.ended"), true);
}

function showProblem(text) {
  problemLine.textContent = text;
  problemLine.hidden = false;
}

function hideProblem() {
  problemLine.hidden = true;
}

// -- the fallbacks: each choice is told to the other side ------------------------------------

root.addEventListener("click", (event) => {
  const link = event.target.closest("[data-fallback]");
  if (!link || !isConnected()) return;
  send("call.fallback", { token, choice: link.dataset.fallback }).catch(() => {});
});

const phoneForm = root.querySelector('[data-action="phone-me"]');
phoneForm?.addEventListener("submit", async (event) => {
  if (!isConnected()) return; // the form posts as usual
  event.preventDefault();
  const button = phoneForm.querySelector("button");
  const asked = phoneForm.querySelector('[data-testid="phone-asked"]');
  button.disabled = true;
  try {
    const done = await send("call.phone_me", {
      token,
      phone: phoneForm.elements.phone.value,
      agree: phoneForm.elements.agree.checked,
    });
    asked.textContent = t("phone_asked", { phone: done.phone });
    asked.hidden = false;
    hideProblem();
  } catch (error) {
    const fields = error.fields ?? {};
    showProblem(Object.values(fields).join(" ") || error.message);
  }
  button.disabled = false;
});

const endForm = root.querySelector('[data-action="end"]');
endForm?.addEventListener("submit", async (event) => {
  if (!isConnected()) return; // the form posts as usual
  event.preventDefault();
  try {
    await send("conversation.end", { conversation_id: conversationId });
    endCall();
  } catch (error) {
    if (error?.code === "conversation.ended") endCall();
    else showProblem(error.message);
  }
});

// -- what reaches this page ------------------------------------------------------------------

function onEvent(name, data) {
  switch (name) {
    case "session.state":
      if (role === "candidate") followConversation(data.me?.conversation, data.me?.request);
      else followConversation(data.console?.conversation);
      break;
    case "me.state":
      if (role === "candidate") followConversation(data.conversation, data.request);
      break;
    case "console.state":
      if (role === "advisor") followConversation(data.conversation);
      break;
    case "conversation.extended":
      if (data.id === conversationId) extendTo(data.ends_at);
      break;
    case "call.signal":
      heard(data);
      break;
    case "call.fallback":
      fallbackTold(data);
      break;
    case "session.welcome":
      break;
    default:
      break;
  }
}

function onStatus(state) {
  socketUp = state === "connected";
  if (socketUp) signal("hello");
  showConnection();
}

// -- how the connection is doing: what the other side's media bring in -----------------------

let lastBytes = { audio: 0, video: 0 };

async function readStats() {
  if (!pc || ended) return;
  let report;
  try {
    report = await pc.getStats();
  } catch {
    return;
  }
  const bytes = { audio: 0, video: 0 };
  let lost = 0;
  let received = 0;
  report.forEach((stat) => {
    if (stat.type !== "inbound-rtp" || !(stat.kind in bytes)) return;
    bytes[stat.kind] += stat.bytesReceived ?? 0;
    lost += stat.packetsLost ?? 0;
    received += stat.packetsReceived ?? 0;
  });
  // What came in since the last look, per kind: what the page (and its tests) can see.
  root.dataset.inAudioBytes = String(bytes.audio);
  root.dataset.inVideoBytes = String(bytes.video);
  root.dataset.inAudioFlowing = String(bytes.audio > lastBytes.audio);
  root.dataset.inVideoFlowing = String(bytes.video > lastBytes.video);
  root.dataset.loss = received + lost > 0 ? (lost / (received + lost)).toFixed(3) : "0";
  lastBytes = bytes;
}

window.setInterval(readStats, STATS_MS);

window.addEventListener("pagehide", () => {
  if (remotePeer && isConnected()) {
    send("call.signal", { token, kind: "bye", peer, to: remotePeer }).catch(() => {});
  }
  closeConnection();
});

renderControls();
showConnection();
startMedia().then(() => {
  tellMedia();
  applySenders();
});
connect({ onEvent, onStatus });
