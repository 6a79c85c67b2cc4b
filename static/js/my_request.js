// "Mijn verzoek": the candidate's own request, live. The section is re-rendered from
// `me` (session.state.me and me.state); panels are copies of the server's <template>s,
// filled with textContent only.

import { announce, connect, isConnected, send, serverNow, t } from "./live.js";
import { startCountdown } from "./countdown.js";
import { followCalls } from "./enter_call.js";
import { clock, field, fromTemplate, mmss, safeUrl, setText, waitText, warningText } from "./format.js";

const section = document.getElementById("my-request");
const errorBox = document.getElementById("my-request-error");
const timeZone = section.dataset.timezone;
const announced = new Set(); // "<conversation id>:warning" and ":time_up", told once
let countdown = null;
let titleBefore = null;

// The same states as templates/_my_request.html (state_of).
function stateOf(me) {
  const request = me?.request;
  const conversation = me?.conversation;
  if (conversation && conversation.ended_at == null) return "conversation";
  if (conversation) return "ended";
  if (!request) return "none";
  if (request.status === "waiting") return "waiting";
  // Away past the grace period: the place in the queue lapsed.
  if (request.status === "expired" && request.closed_reason === "away") return "lapsed";
  if (["declined", "expired", "cancelled"].includes(request.status)) return request.status;
  if (request.status === "accepted") return "ended";
  return "none";
}

// What is said when the request reaches these states while the page is open.
const STATE_TEXTS = {
  ended: "conversation_ended",
  declined: "declined",
  expired: "expired",
  cancelled: "cancelled",
};

function tell(conversationId, moment, text) {
  const key = `${conversationId}:${moment}`;
  if (announced.has(key)) return;
  announced.add(key);
  announce(text, true);
}

function positionText(n) {
  const text = t("position", { n });
  return n === 1 ? `${text} ${t("position_first")}` : text;
}

function fillWaiting(panel, request) {
  const position = field(panel, "position");
  const before = position.dataset.position;
  position.dataset.position = request.position;
  setText(position, positionText(request.position));
  // A new place in the queue is told once, politely; the page itself is not a live region.
  if (panel.isConnected && before !== String(request.position)) {
    announce(positionText(request.position));
  }
  setText(field(panel, "wait"), waitText(request.wait_minutes, { own: true, range: request.wait_range }));
  // Moved by the moderator: said once, with the new booth and place.
  const moved = field(panel, "moved");
  const movedBefore = moved.dataset.movedAt;
  moved.dataset.movedAt = request.moved_at ?? "";
  moved.hidden = !request.moved_at;
  if (panel.isConnected && request.moved_at && movedBefore !== String(request.moved_at)) {
    announce(`${moved.textContent.trim()} ${request.booth_name}: ${positionText(request.position)}`);
  }
  setText(field(panel, "booth_name"), request.booth_name);
  setText(field(panel, "advisor_name"), request.advisor_name || t("first_free"));
  field(panel, "question-row").hidden = !request.question;
  setText(field(panel, "question"), request.question);
  for (const input of panel.querySelectorAll('input[name="request_id"]')) input.value = request.id;
  fillReady(panel, request);
}

// "Ben je er klaar voor?" (app.domain.readiness): the prompt with the time left, a sound, a
// notification (when allowed) and a flashing tab title while it is unanswered.
let readyTimer = null;
let readyAsked = null; // the ready_asked_at the candidate was alerted for
let flashing = null;
let titleBeforeFlash = null;

function readyLimitText(request) {
  const seconds = Math.round(request.ready_until - request.ready_asked_at);
  return t("ready_limit", { seconds, time: clock(request.ready_until, timeZone) });
}

function fillReady(panel, request) {
  const prompt = field(panel, "ready");
  const asked = request.ready_asked_at != null && request.ready_at == null;
  prompt.hidden = !asked;
  field(panel, "ready-done").hidden = request.ready_at == null;
  field(panel, "more-time").hidden = Boolean(request.ready_extended);
  if (!asked) {
    stopReady();
    return;
  }
  prompt.dataset.readyUntil = request.ready_until;
  setText(field(panel, "ready-limit"), readyLimitText(request));
  const notify = panel.querySelector('[data-action="notify"]');
  notify.hidden = !("Notification" in window) || Notification.permission !== "default";
  const left = field(panel, "ready-left");
  const tick = () => {
    const remaining = Math.max(0, Math.ceil(Number(prompt.dataset.readyUntil) - serverNow()));
    setText(left, mmss(remaining));
  };
  tick();
  clearInterval(readyTimer);
  readyTimer = setInterval(tick, 250);
  alertReady(request);
}

function alertReady(request) {
  if (readyAsked === request.ready_asked_at) return;
  readyAsked = request.ready_asked_at;
  announce(`${t("ready_prompt")} ${readyLimitText(request)}`, true);
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    try {
      new Notification(t("ready_title"), { body: readyLimitText(request), tag: "inzoomen-ready" });
    } catch {
      // Some browsers only show notifications from a service worker: the page still tells.
    }
  }
  flashTitle();
}

function beep() {
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator();
    const volume = audio.createGain();
    tone.frequency.value = 880;
    volume.gain.setValueAtTime(0.2, audio.currentTime);
    volume.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(volume).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
    tone.onended = () => audio.close();
  } catch {
    // No sound possible (no Web Audio, or not allowed yet): the other signals remain.
  }
}

function flashTitle() {
  if (flashing) return;
  titleBeforeFlash = document.title;
  let on = false;
  flashing = setInterval(() => {
    on = !on;
    document.title = on ? `(!) ${t("ready_title")}` : titleBeforeFlash;
  }, 1000);
  document.title = `(!) ${t("ready_title")}`;
}

function stopReady() {
  clearInterval(readyTimer);
  readyTimer = null;
  if (flashing) {
    clearInterval(flashing);
    flashing = null;
    document.title = titleBeforeFlash;
  }
}

function fillConversation(panel, conversation) {
  const names = { advisor: conversation.advisor_name, booth: conversation.booth_name };
  setText(field(panel, "with"), t(conversation.advisor_name ? "with_advisor" : "with_booth", names));
  const join = panel.querySelector('[data-testid="video-link"]');
  join.dataset.href = safeUrl(conversation.video_url);
  // A call on the hall's own page opens here; a call elsewhere in a new window.
  if (conversation.builtin_call) join.form.removeAttribute("target");
  else join.form.target = "_blank";
  field(join, "new-window").hidden = Boolean(conversation.builtin_call);
  panel.querySelector('input[name="conversation_id"]').value = conversation.id;
  const limit = field(panel, "join-limit");
  limit.hidden = conversation.joined_at != null;
  if (conversation.join_until != null) {
    const seconds = Math.round(conversation.join_until - conversation.started_at);
    limit.dataset.seconds = seconds;
    setText(limit, t("join_limit", { seconds }));
  }
  const timer = panel.querySelector('[data-testid="countdown"]');
  timer.dataset.endsAt = conversation.ends_at;
  timer.dataset.warningSeconds = conversation.warning_seconds;
  setText(field(panel, "ends-at"), t("ends_at", { time: clock(conversation.ends_at, timeZone) }));
}

// Cancelled: by the candidate, or because the moderator closed the booth (with other open
// booths to try) or the whole event.
function fillCancelled(panel, request) {
  const reason = request.closed_reason || "";
  const known = ["booth_closed", "event_closed"].includes(reason);
  panel.dataset.reason = reason;
  field(panel, "title-cancelled").hidden = known;
  field(panel, "title-booth_closed").hidden = reason !== "booth_closed";
  field(panel, "title-event_closed").hidden = reason !== "event_closed";
  field(panel, "booth-closed").hidden = reason !== "booth_closed";
  field(panel, "event-closed").hidden = reason !== "event_closed";
  field(panel, "again").hidden = reason === "event_closed";
  const suggestions = request.suggestions || [];
  field(panel, "suggestions-row").hidden = suggestions.length === 0;
  field(panel, "suggestions").replaceChildren(
    ...suggestions.map((booth) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/inzoomen/${Number(booth.id)}`;
      link.dataset.suggestionId = booth.id;
      link.textContent = booth.name;
      item.append(link);
      return item;
    }),
  );
  if (reason === "booth_closed") {
    const text = field(panel, "booth-closed").querySelector("p");
    text.textContent = t("booth_closed_by_moderator", { booth: request.booth_name });
  }
}

// The heading's visible part (its other parts are hidden alternatives).
function visibleHeading(panel) {
  const heading = panel.querySelector("h2");
  const parts = [...heading.querySelectorAll("[data-field]")].filter((part) => !part.hidden);
  return parts.length ? parts.map((part) => part.textContent).join(" ") : heading.textContent;
}

// A no-show ends the request kindly (closed_reason "no_show").
function fillExpired(panel, request) {
  const noShow = request.closed_reason === "no_show";
  field(panel, "expired-late").hidden = noShow;
  field(panel, "expired-no-show").hidden = !noShow;
}

function fillDeclined(panel, request) {
  field(panel, "decline-row").hidden = !request.decline_message;
  setText(field(panel, "decline_message"), request.decline_message);
}

// After the conversation ended: the rating form, or the rating given (me.feedback).
function fillEnded(panel, feedback) {
  const rated = feedback?.rating != null;
  field(panel, "rate").hidden = !feedback || rated;
  field(panel, "rated").hidden = !rated;
  if (feedback) {
    panel.querySelector('input[name="conversation_id"]').value = feedback.conversation_id;
  }
  setText(field(panel, "rated-rating"), rated ? String(feedback.rating) : "");
  const comment = field(panel, "rated-comment");
  setText(comment, rated ? feedback.comment : "");
  comment.hidden = !(rated && feedback.comment);
}

function startTimer(conversation) {
  countdown?.stop();
  const timer = section.querySelector('[data-testid="countdown"]');
  countdown = startCountdown(timer, conversation.ends_at, conversation.warning_seconds, {
    onWarning: () => tell(conversation.id, "warning", warningText(Number(timer.dataset.endsAt))),
    onTimeUp: () => tell(conversation.id, "time_up", t("time_up")),
  });
}

// The advisor extended the conversation (conversation.extended, or a state with a later
// end): the timer counts to the new end at once, and the warning will be told again.
function extendTo(data) {
  const current = section.dataset.key?.split(":")[2];
  if (!countdown || section.dataset.state !== "conversation" || current !== String(data.id)) return;
  if (!countdown.setEnd(Number(data.ends_at))) return;
  announced.delete(`${data.id}:warning`);
  announced.delete(`${data.id}:time_up`);
  const time = clock(Number(data.ends_at), timeZone);
  setText(field(section, "ends-at"), t("ends_at", { time }));
  announce(t("extended", { time }), true);
}

// When the call starts while this tab is in the background, the tab's title says so.
function flagTitle() {
  if (!document.hidden || titleBefore !== null) return;
  titleBefore = document.title;
  document.title = `(!) ${t("accepted")}`;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && titleBefore !== null) {
    document.title = titleBefore;
    titleBefore = null;
  }
});

function render(me) {
  const state = stateOf(me);
  const request = me?.request;
  const conversation = me?.conversation;
  const key = `${state}:${request?.id ?? ""}:${conversation?.id ?? ""}`;
  const changed = key !== section.dataset.key;
  let panel = section.firstElementChild;
  if (changed || !panel) {
    panel = fromTemplate(`tpl-${state}`);
  }
  if (state === "waiting") fillWaiting(panel, request);
  if (state === "conversation") fillConversation(panel, conversation);
  if (state === "declined") fillDeclined(panel, request);
  if (state === "cancelled") fillCancelled(panel, request);
  if (state === "ended") fillEnded(panel, me?.feedback);
  if (state === "ended") {
    field(panel, "no-show").hidden = !conversation?.no_show;
    if (conversation?.no_show) field(panel, "rate").hidden = true;
  }
  if (state === "expired") fillExpired(panel, request);
  if (state !== "waiting") stopReady();

  if (changed) {
    // Focus inside the old panel would fall back to the top of the page: keep it here.
    const hadFocus = section.contains(document.activeElement);
    section.replaceChildren(panel);
    section.dataset.key = key;
    section.dataset.state = state;
    errorBox.hidden = true;
    if (hadFocus) panel.querySelector("h2")?.focus();
    if (state === "conversation") {
      announce(t("accepted"), true);
      flagTitle();
    } else if (state === "waiting") {
      announce(positionText(request.position));
    } else if (state === "cancelled") {
      announce(visibleHeading(panel));
    } else if (STATE_TEXTS[state]) {
      announce(t(STATE_TEXTS[state]));
    } else if (state === "lapsed") {
      announce(panel.querySelector("h2").textContent);
    }
  }
  if (state === "conversation") {
    if (changed || !countdown) startTimer(conversation);
    else extendTo(conversation);
  } else {
    countdown?.stop();
    countdown = null;
  }
}

// A call on the hall's own page: from the accept straight into it.
const followCall = followCalls(section.dataset.key.split(":")[2]);

function onEvent(name, data) {
  if (name === "session.state" && followCall(data.me?.conversation)) return;
  if (name === "me.state" && followCall(data.conversation)) return;
  if (name === "session.state") render(data.me);
  else if (name === "me.state") render(data);
  else if (name === "conversation.warning") tell(data.id, "warning", warningText(data.ends_at));
  else if (name === "conversation.time_up") tell(data.id, "time_up", t("time_up"));
  else if (name === "conversation.extended") extendTo(data);
}

// Rate over the live connection; without it, the form posts as usual.
async function submitRating(form) {
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const given = await send("conversation.rate", {
      conversation_id: Number(form.elements.conversation_id.value),
      rating: Number(form.elements.rating.value),
      comment: form.elements.comment.value,
    });
    errorBox.hidden = true;
    const panel = section.firstElementChild;
    fillEnded(panel, given);
    const thanks = field(panel, "rated");
    thanks.focus();
    announce(thanks.textContent.trim().replace(/\s+/g, " "));
  } catch (error) {
    errorBox.textContent = error.message || t("error");
    errorBox.hidden = false;
    button.disabled = false;
  }
}

// Readiness and joining over the live connection; without it, the forms post as usual.
async function submitStep(form) {
  const action = form.dataset.action;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    if (action === "join") {
      const joined = await send("conversation.join", {
        conversation_id: Number(form.elements.conversation_id.value),
      });
      if (form.target === "_blank") window.open(safeUrl(joined.video_url), "_blank", "noopener");
      else window.location.assign(safeUrl(joined.video_url));
      field(section, "join-limit").hidden = true;
    } else {
      const name = action === "ready" ? "request.ready" : "request.more_time";
      const done = await send(name, { request_id: Number(form.elements.request_id.value) });
      if (action === "ready") {
        stopReady();
        announce(t("ready_done"), true);
      } else {
        announce(t("ready_more_time", { time: clock(done.ready_until, timeZone) }), true);
      }
    }
    errorBox.hidden = true;
  } catch (error) {
    errorBox.textContent = error.message || t("error");
    errorBox.hidden = false;
  }
  button.disabled = false;
}

section.addEventListener("click", async (event) => {
  const button = event.target.closest('[data-action="notify"]');
  if (!button || !("Notification" in window)) return;
  await Notification.requestPermission();
  button.hidden = Notification.permission !== "default";
});

// Cancel over the live connection; without it, the form posts as usual.
section.addEventListener("submit", async (event) => {
  const form = event.target;
  if (["ready", "more_time", "join"].includes(form.dataset.action) && isConnected()) {
    event.preventDefault();
    await submitStep(form);
    return;
  }
  if (form.dataset.action === "rate" && isConnected()) {
    event.preventDefault();
    await submitRating(form);
    return;
  }
  if (form.dataset.action !== "cancel" || !isConnected()) return;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await send("request.cancel", { request_id: Number(form.elements.request_id.value) });
    errorBox.hidden = true;
  } catch (error) {
    errorBox.textContent = error.message || t("error");
    errorBox.hidden = false;
    button.disabled = false;
  }
});

// The first paint came from the server; start its timer right away.
const firstTimer = section.querySelector('[data-testid="countdown"]');
if (firstTimer) {
  const id = section.dataset.key.split(":")[2];
  startTimer({
    id,
    ends_at: Number(firstTimer.dataset.endsAt),
    warning_seconds: Number(firstTimer.dataset.warningSeconds),
  });
}

connect({ onEvent });
