// The call page of a conversation: both pictures, the controls, the timer and the ways out,
// for its two participants. This side's camera and microphone are call/media.js's; the
// connection to the other side (WebRTC, signalled over the hall's live connection: see
// docs/protocol.md and docs/video.md) is call/peer.js's. This module wires the two to the
// page and shows what happens. Nothing here decides when the conversation ends: the server
// does; this page follows it.

import { announce, connect, isConnected, readJson, send, t, texts } from "./live.js";
import { startCountdown } from "./countdown.js";
import { clock, safeUrl } from "./format.js";
import { LocalMedia } from "./call/media.js";
import { CallConnection } from "./call/peer.js";

const root = document.getElementById("call");
const token = root.dataset.token;
const role = root.dataset.role;
const conversationId = Number(root.dataset.conversationId);
// The call page's own texts join the shared ones that t() reads.
Object.assign(texts, readJson("call-texts"));

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

// What the page itself keeps: the extension the advisor may offer, and whether the timer is
// within its warning time (the advisor's end choices show then).
const page = { extension: null, inWindow: false };

const media = new LocalMedia({ onDeviceError: () => showProblem(t("no_media")) });
localVideo.srcObject = media.preview;

const connection = new CallConnection({
  token,
  offerer: role === "advisor",
  iceConfig: readJson("call-ice"),
  media,
  on: {
    remoteStream(stream) {
      remoteVideo.srcObject = stream;
    },
    remoteTrack: play,
    change: showConnection,
    connected: hideProblem,
    otherMedia: showOtherMedia,
    otherLeft() {
      remoteNote.textContent = "";
    },
    ended: endCall,
  },
});

// -- this side's camera and microphone: the controls ---------------------------------------

// What the preview shows instead of one's picture: "Alleen geluid", or "Camera uit".
function showLocalNote() {
  localNote.textContent = media.wantVideo() ? "" : t(media.audioOnly ? "audio_only_off" : "camera_on");
}

async function startMedia() {
  // Asked once; without camera or microphone the call still shows and hears the other side,
  // and the ways out are at hand.
  if (!(await media.start())) openPanel(document.getElementById("call-fallbacks"), { focus: false });
  showLocalNote();
  await listDevices();
  for (const button of [micButton, cameraButton, audioOnlyButton]) button.disabled = false;
  micButton.disabled = !media.audio;
  cameraButton.disabled = !media.video;
  renderControls();
}

async function listDevices() {
  const devices = await media.devices();
  if (!devices) return;
  fillSelect(cameraSelect, devices.cameras, media.cameraId, "camera_n");
  fillSelect(micSelect, devices.microphones, media.micId, "microphone_n");
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
  if (!(await media.switchDevice(kind, deviceId))) return;
  showLocalNote();
  await connection.applySenders();
}

async function setCamera(on) {
  await media.setCamera(on);
  await cameraChanged();
  connection.tellMedia();
}

async function setAudioOnly(on) {
  await media.setAudioOnly(on);
  await cameraChanged();
  connection.tellMedia();
}

// The camera went on or off (or would not): the preview, the controls, what is sent.
async function cameraChanged() {
  showLocalNote();
  renderControls();
  await connection.applySenders();
}

async function setMic(on) {
  media.setMic(on);
  renderControls();
  await connection.applySenders();
  connection.tellMedia();
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
  root.dataset.camera = media.wantVideo() ? "on" : "off";
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

// -- the other side: its picture and sound, and how the connection is doing ------------------

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

// connecting, connected, reconnecting (or waiting for the other side): shown, and the
// changes that matter announced.
function showConnection() {
  const state = connection.state();
  if (root.dataset.connection === state) return;
  const before = root.dataset.connection;
  root.dataset.connection = state;
  stateLine.textContent = t(`state.${state}`);
  stateLine.dataset.state = state;
  if (state === "connected" || (state === "reconnecting" && before === "connected")) {
    announce(t(`state.${state}`));
  }
}

connection.watch();

function showOtherMedia({ audio, video, audioOnly }) {
  const notes = [];
  if (audioOnly) notes.push(t("other_audio_only"));
  else if (!video) notes.push(t("other_camera_off"));
  if (!audio) notes.push(t("other_muted"));
  remoteNote.textContent = notes.join(" ");
  root.dataset.otherMic = audio ? "on" : "off";
  root.dataset.otherCamera = video ? "on" : "off";
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

function showEndChoices() {
  if (!endChoices) return;
  endChoices.hidden = !page.inWindow;
  const minutes = page.extension?.minutes ?? 0;
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
      page.inWindow = inside;
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
    page.extension = conversation.extension;
    showEndChoices();
  }
}

function endCall() {
  if (connection.ended) return;
  connection.end();
  // The page that follows the call is not in full screen.
  if (inFullscreen()) document.exitFullscreen().catch(() => {});
  media.stop();
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
      connection.heard(data);
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
  connection.setSocket(state === "connected");
  showConnection();
}

// What the other side's media bring in, per kind: what the page (and its tests) can see.
async function showStats() {
  const seen = await connection.readStats();
  if (!seen) return;
  root.dataset.inAudioBytes = String(seen.bytes.audio);
  root.dataset.inVideoBytes = String(seen.bytes.video);
  root.dataset.inAudioFlowing = String(seen.flowing.audio);
  root.dataset.inVideoFlowing = String(seen.flowing.video);
  root.dataset.loss = seen.loss === null ? "0" : seen.loss.toFixed(3);
}

window.setInterval(showStats, STATS_MS);

window.addEventListener("pagehide", () => connection.leave());

renderControls();
showConnection();
startMedia().then(() => {
  connection.tellMedia();
  connection.applySenders();
});
connect({ onEvent, onStatus });
