// One WebSocket per page, to /ws (see docs/protocol.md).
//
// Server → client: pushes {event, data} and replies {id, ok, data | error, server_time}.
// Client → server: commands {id, action, data}; send() correlates the reply by id.
// On every (re)connect the server sends session.welcome and a full session.state, so the
// pages simply re-render from it. Reconnects use exponential backoff with full jitter.
//
// Order is checked here, once for every page: a state (me, console, overview) older than
// the one already shown (a lower rev) is dropped, and so is a hall.delta the hall already
// has; a hall.delta that skips a version means something was missed, so the whole state is
// asked for again (session.sync) and handed on as session.state.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const REPLY_TIMEOUT_MS = 15_000;
const RESYNC_AGAIN_MS = 1_000;
const CLOCK_SAMPLES = 3;
// Close code of a socket whose session ended (docs/protocol.md): do not reconnect.
const SESSION_ENDED = 4001;

// The data of a <script type="application/json"> element; {} when it is missing or broken.
export function readJson(id) {
  const element = document.getElementById(id);
  if (!element) return {};
  try {
    return JSON.parse(element.textContent);
  } catch {
    return {};
  }
}

// Every text the scripts show, translated by the server.
export const texts = { ...readJson("client-texts-extra"), ...readJson("client-texts") };

// A text by key, with %(name)s replaced by params.name.
export function t(key, params = {}) {
  const text = texts[key] ?? key;
  return text.replace(/%\((\w+)\)s/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

// Tell screen reader users something, once. Urgent texts interrupt.
export function announce(text, urgent = false) {
  const region = document.getElementById(urgent ? "announcer-urgent" : "announcer");
  if (!region) return;
  region.textContent = "";
  // A short pause, so the same text twice in a row is read twice.
  window.setTimeout(() => {
    region.textContent = text;
  }, 100);
}

// -- the server's clock ------------------------------------------------------------------

let clockOffset = 0; // seconds to add to the local clock to get the server's

// The server's time now, in epoch seconds.
export function serverNow() {
  return Date.now() / 1000 + clockOffset;
}

async function syncClock() {
  let bestRoundTrip = Infinity;
  for (let i = 0; i < CLOCK_SAMPLES; i += 1) {
    const t0 = Date.now();
    let reply;
    try {
      reply = await request("clock.sync", {});
    } catch {
      return;
    }
    const t1 = Date.now();
    if (t1 - t0 < bestRoundTrip) {
      bestRoundTrip = t1 - t0;
      const serverTime = reply.data?.server_time ?? reply.server_time;
      clockOffset = serverTime - (t0 + t1) / 2 / 1000;
    }
  }
}

// -- the connection ------------------------------------------------------------------------

let socket = null;
let welcomed = false;
let attempt = 0;
let retryTimer = null;
let leaving = false;
let submitting = false;
let nextId = 0;
let handlers = { onEvent: () => {}, onStatus: () => {} };
const pending = new Map();
// Parts of every page (the announcements banner) that hear every event besides the page's
// own handler, and whether a page script opened the connection.
const listeners = [];
let started = false;

// Hear every event (in order, like the page's own handler), whatever the page script does.
export function listen(listener) {
  listeners.push(listener);
}

// True once connect() was called on this page.
export function isStarted() {
  return started;
}

function tell(name, data) {
  for (const listener of listeners) {
    try {
      listener(name, data);
    } catch (error) {
      console.error(`handling ${name} failed`, error);
    }
  }
}

// True when commands can be sent and will be answered.
export function isConnected() {
  return welcomed && socket?.readyState === WebSocket.OPEN;
}

function setStatus(state) {
  document.body.classList.toggle("is-live", state === "connected");
  const element = document.getElementById("live-status");
  if (element && element.dataset.state !== state) {
    element.dataset.state = state;
    if (state === "connected") element.textContent = t("connected");
    else if (state === "reconnecting") element.textContent = t("reconnecting");
  }
  handlers.onStatus(state);
}

function failPending() {
  for (const [id, waiter] of pending) {
    window.clearTimeout(waiter.timer);
    waiter.reject({ code: "connection.lost", message: t("error") });
    pending.delete(id);
  }
}

function scheduleRetry() {
  // Full jitter: a random wait between 0 and a cap that doubles from 0.5 s up to 30 s.
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  attempt += 1;
  retryTimer = window.setTimeout(open, Math.random() * cap);
}

// -- order --------------------------------------------------------------------------------

const STATE_EVENTS = { "me.state": "me", "console.state": "console", "overview.state": "overview" };
let revs = {};
let hallVersion = null;

function resetOrder() {
  revs = {};
  hallVersion = null;
}

function rememberState(state) {
  if (typeof state?.hall?.v === "number") hallVersion = state.hall.v;
  for (const part of Object.values(STATE_EVENTS)) {
    if (typeof state?.[part]?.rev === "number") revs[part] = state[part].rev;
  }
}

// Until the whole state is back, the hall's deltas are dropped (the state will hold them),
// so a sync the server refused or did not answer in time is asked again, later each time,
// for as long as this connection lasts; a new connection brings a full state anyway.
let resyncingOn = null; // the connection a sync is being asked on

async function resync() {
  const ws = socket;
  if (ws === null || resyncingOn === ws) return;
  resyncingOn = ws;
  try {
    for (let attempt = 0; socket === ws; attempt += 1) {
      try {
        const state = await send("session.sync");
        rememberState(state);
        handlers.onEvent("session.state", state);
        tell("session.state", state);
        return;
      } catch {
        const delay = Math.min(BACKOFF_MAX_MS, RESYNC_AGAIN_MS * 2 ** attempt);
        await new Promise((done) => window.setTimeout(done, delay));
      }
    }
  } finally {
    if (resyncingOn === ws) resyncingOn = null;
  }
}

// Whether a pushed event should reach the page.
function inOrder(name, data) {
  if (name === "session.state") {
    rememberState(data);
    return true;
  }
  if (name === "hall.delta") {
    if (hallVersion === null || data.v <= hallVersion) return false;
    if (data.v > hallVersion + 1) {
      hallVersion = null;
      resync();
      return false;
    }
    hallVersion = data.v;
    return true;
  }
  const part = STATE_EVENTS[name];
  if (part && typeof data?.rev === "number") {
    if (data.rev < (revs[part] ?? -1)) return false;
    revs[part] = data.rev;
  }
  return true;
}

function receive(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  if (typeof frame.event === "string") {
    if (frame.event === "session.welcome") {
      attempt = 0;
      welcomed = true;
      resetOrder();
      if (typeof frame.data?.server_time === "number") {
        clockOffset = frame.data.server_time - Date.now() / 1000;
      }
      setStatus("connected");
      syncClock();
    }
    if (!inOrder(frame.event, frame.data)) return;
    try {
      handlers.onEvent(frame.event, frame.data);
    } catch (error) {
      console.error(`handling ${frame.event} failed`, error);
    }
    tell(frame.event, frame.data);
    return;
  }
  const waiter = pending.get(frame.id);
  if (!waiter) return;
  pending.delete(frame.id);
  window.clearTimeout(waiter.timer);
  if (frame.ok) waiter.resolve(frame);
  else waiter.reject(frame.error ?? { code: "unknown", message: t("error") });
}

function open() {
  retryTimer = null;
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${window.location.host}/ws`);
  socket = ws;
  ws.addEventListener("message", (message) => receive(message.data));
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    welcomed = false;
    failPending();
    if (leaving) return;
    if (event.code === SESSION_ENDED) {
      // Signed out (here or in another tab) or the password changed: sign in again, unless
      // this page is already on its way somewhere (the sign-out form itself).
      leaving = true;
      if (submitting) return;
      const role = document.body.dataset.role;
      window.location.assign(role === "candidate" ? "/aanmelden" : "/inloggen");
      return;
    }
    setStatus("reconnecting");
    scheduleRetry();
  });
}

// Try at once instead of waiting out the backoff, e.g. when the network is back.
function reconnectNow() {
  if (socket || leaving) return;
  if (retryTimer !== null) window.clearTimeout(retryTimer);
  open();
}

export function connect({ onEvent = () => {}, onStatus = () => {} } = {}) {
  handlers = { onEvent, onStatus };
  started = true;
  document.addEventListener("submit", (event) => {
    // A form the page does not handle itself: the browser is leaving for its answer.
    if (!event.defaultPrevented) submitting = true;
  });
  window.addEventListener("online", reconnectNow);
  window.addEventListener("pagehide", () => {
    leaving = true;
  });
  window.addEventListener("pageshow", (event) => {
    leaving = false;
    submitting = false;
    if (event.persisted) reconnectNow();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) reconnectNow();
  });
  open();
}

function request(action, data) {
  return new Promise((resolve, reject) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      reject({ code: "connection.lost", message: t("error") });
      return;
    }
    nextId += 1;
    const id = `c${nextId}`;
    const timer = window.setTimeout(() => {
      pending.delete(id);
      reject({ code: "connection.timeout", message: t("error") });
    }, REPLY_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    socket.send(JSON.stringify({ id, action, data }));
  });
}

// Give a command; resolves with the reply's data, rejects with its error {code, message}.
export function send(action, data = {}) {
  return request(action, data).then((reply) => reply.data);
}
