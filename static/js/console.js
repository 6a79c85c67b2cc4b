// The advisor console: status, the running conversation and the booth's queue, live from
// console.state. Buttons act over the WebSocket; without it the forms post as usual.

import { announce, connect, isConnected, send, t } from "./live.js";
import { startCountdown } from "./countdown.js";
import { followCalls } from "./enter_call.js";
import { renderFollowUps } from "./follow_ups.js";
import { clock, field, fromTemplate, safeUrl, setText, statusLabel, warningText } from "./format.js";

const root = document.getElementById("console");
const timeZone = root.dataset.timezone;
const errorBox = document.getElementById("console-error");
const queueList = document.getElementById("queue");
const queueEmpty = document.getElementById("queue-empty");
const queueCount = document.getElementById("queue-count");
const slot = document.getElementById("conversation-slot");
const noConversation = document.getElementById("no-conversation");
const announced = new Set();
let known = null; // request ids already seen, to announce only new ones
let countdown = null;

function tell(conversationId, moment, text) {
  const key = `${conversationId}:${moment}`;
  if (announced.has(key)) return;
  announced.add(key);
  announce(text, true);
}

function showError(message) {
  errorBox.textContent = message || t("error");
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = "";
}

// -- status --------------------------------------------------------------------------------

function renderStatus(status) {
  const badge = document.querySelector("#my-status .status");
  badge.className = `status status-${status}`;
  badge.dataset.status = status;
  setText(badge, statusLabel(status));
  for (const button of document.querySelectorAll("#status-form button[name=status]")) {
    button.setAttribute("aria-pressed", String(button.value === status));
  }
  document.getElementById("status-busy").hidden = status !== "in_conversation";
}

// -- the running conversation --------------------------------------------------------------

function renderConversation(conversation) {
  const current = slot.firstElementChild;
  if (!conversation) {
    countdown?.stop();
    countdown = null;
    slot.replaceChildren();
    noConversation.hidden = false;
    return;
  }
  noConversation.hidden = true;
  if (current && current.dataset.conversationId === String(conversation.id) && countdown) {
    fillJoined(current, conversation);
    fillEndChoices(current, conversation);
    extendTo(conversation);
    return;
  }
  const fresh = !(current && current.dataset.conversationId === String(conversation.id));
  const panel = fresh ? fromTemplate("tpl-conversation") : current;
  // Notes are filled once per conversation, so a push never overwrites what is being typed.
  if (fresh) panel.querySelector('textarea[name="notes"]').value = conversation.notes ?? "";
  if (fresh) fillTransferTargets(panel, conversation.transfer_targets ?? []);
  panel.dataset.conversationId = conversation.id;
  setText(field(panel, "candidate_name"), conversation.candidate_name);
  field(panel, "question-row").hidden = !conversation.question;
  setText(field(panel, "question"), conversation.question);
  const videoLink = panel.querySelector('[data-testid="video-link"]');
  videoLink.href = safeUrl(conversation.video_url);
  // A call on the hall's own page opens here; a call elsewhere in a new window.
  if (conversation.builtin_call) videoLink.removeAttribute("target");
  else videoLink.target = "_blank";
  field(videoLink, "new-window").hidden = Boolean(conversation.builtin_call);
  panel.querySelector('[data-testid="book-follow-up"]').href =
    `/adviseur/vervolgafspraak?gesprek=${encodeURIComponent(String(conversation.id))}`;
  for (const input of panel.querySelectorAll('input[name="conversation_id"]')) {
    input.value = conversation.id;
  }
  const timer = panel.querySelector('[data-testid="countdown"]');
  timer.dataset.endsAt = conversation.ends_at;
  timer.dataset.warningSeconds = conversation.warning_seconds;
  setText(field(panel, "ends-at"), t("ends_at", { time: clock(conversation.ends_at, timeZone) }));
  fillJoined(panel, conversation);
  fillEndChoices(panel, conversation);
  if (panel !== current) slot.replaceChildren(panel);
  startTimer(panel, conversation.id);
}

// The timer of the panel's conversation; at the warning the choices to extend or to book a
// follow-up appear, and go again when an extension moves the end out of the warning time.
function startTimer(panel, id) {
  const timer = panel.querySelector('[data-testid="countdown"]');
  countdown?.stop();
  countdown = startCountdown(timer, Number(timer.dataset.endsAt), Number(timer.dataset.warningSeconds), {
    onWarning: () => tell(id, "warning", warningText(Number(timer.dataset.endsAt))),
    onTimeUp: () => tell(id, "time_up", t("time_up")),
    onWindow: (inside) => {
      const choices = field(panel, "end-choices");
      if (choices) choices.hidden = !inside;
    },
  });
}

// The choices at the warning: how many minutes one click adds, or why it cannot.
function fillEndChoices(panel, conversation) {
  const extension = conversation.extension;
  const choices = field(panel, "end-choices");
  if (!extension || !choices) return;
  const minutes = Number(extension.minutes);
  field(choices, "extend-form").hidden = !(minutes > 0);
  setText(field(choices, "extend-label"), t("extend", { n: minutes }));
  field(choices, "extend-limit").hidden = minutes > 0;
  field(choices, "extend-waiting").hidden =
    !(minutes > 0 && extension.waiting > 0 && !extension.allowed_when_waiting);
  choices.querySelector('[data-testid="follow-up"]').href =
    `/adviseur/vervolgafspraak?gesprek=${encodeURIComponent(String(conversation.id))}`;
}

// The conversation was extended (conversation.extended, or a state with a later end): the
// timer counts to the new end at once, and the warning will be told again.
function extendTo(data) {
  const panel = slot.firstElementChild;
  if (!panel || panel.dataset.conversationId !== String(data.id) || !countdown) return;
  if (!countdown.setEnd(Number(data.ends_at))) return;
  announced.delete(`${data.id}:warning`);
  announced.delete(`${data.id}:time_up`);
  const time = clock(Number(data.ends_at), timeZone);
  setText(field(panel, "ends-at"), t("ends_at", { time }));
  announce(t("extended", { time }), true);
}

// The booths (and their advisors) a candidate can be handed to, as options.
function fillTransferTargets(panel, targets) {
  const boothSelect = panel.querySelector('select[name="booth_id"]');
  const advisorSelect = panel.querySelector('select[name="advisor_id"]');
  const anyone = advisorSelect.options[0];
  boothSelect.replaceChildren();
  advisorSelect.replaceChildren(anyone);
  for (const booth of targets) {
    boothSelect.append(new Option(booth.name, String(booth.id)));
    for (const advisor of booth.advisors) {
      advisorSelect.append(new Option(`${advisor.name} (${booth.name})`, String(advisor.id)));
    }
  }
}

// Whether the candidate opened the call yet (app.domain.readiness).
function fillJoined(panel, conversation) {
  const joined = field(panel, "joined");
  joined.dataset.joined = conversation.joined_at != null ? "yes" : "no";
  setText(joined, t(conversation.joined_at != null ? "joined_console" : "not_joined_console"));
}

// -- the queue -----------------------------------------------------------------------------

function fillItem(item, entry) {
  const id = String(entry.request_id);
  item.dataset.requestId = id;
  for (const name of item.querySelectorAll('[data-field="candidate_name"]')) {
    setText(name, entry.candidate_name);
  }
  field(item, "for_me").hidden = !entry.for_me;
  field(item, "ready").hidden = !entry.ready;
  field(item, "ready_asked").hidden = !entry.ready_asked || Boolean(entry.ready);
  const question = field(item, "question");
  question.hidden = !entry.question;
  setText(question, entry.question);
  setText(field(item, "since"), t("waiting_since", { time: clock(entry.created_at, timeZone) }));
  // Handed over by another booth: where from, and the note for this booth's staff.
  field(item, "transfer").hidden = !entry.transferred_from;
  setText(field(item, "transferred_from"), entry.transferred_from ?? "");
  const note = field(item, "transfer_note");
  note.hidden = !entry.transfer_note;
  setText(note, entry.transfer_note ?? "");
  for (const input of item.querySelectorAll('input[name="request_id"]')) input.value = id;
  const textarea = item.querySelector("textarea");
  if (textarea.id !== `decline-message-${id}`) {
    textarea.id = `decline-message-${id}`;
    field(item, "message-label").htmlFor = textarea.id;
    field(item, "message-hint").id = `decline-hint-${id}`;
    textarea.setAttribute("aria-describedby", `decline-hint-${id}`);
  }
}

// Update the list in place, so a half-typed decline message or focus is not lost.
function renderQueue(entries) {
  const existing = new Map();
  for (const item of queueList.querySelectorAll(":scope > li[data-request-id]")) {
    existing.set(item.dataset.requestId, item);
  }
  entries.forEach((entry, index) => {
    const key = String(entry.request_id);
    const item = existing.get(key) ?? fromTemplate("tpl-queue-item");
    existing.delete(key);
    fillItem(item, entry);
    if (queueList.children[index] !== item) {
      queueList.insertBefore(item, queueList.children[index] ?? null);
    }
  });
  for (const item of existing.values()) item.remove();
  queueEmpty.hidden = entries.length > 0;
  setText(queueCount, String(entries.length));

  const ids = new Set(entries.map((entry) => String(entry.request_id)));
  if (known !== null) {
    for (const entry of entries) {
      if (!known.has(String(entry.request_id))) {
        announce(t("new_request", { name: entry.candidate_name }));
      }
    }
  }
  known = ids;
}

function render(state) {
  if (!state || !state.advisor) return;
  if (followCall(state.conversation)) return;
  renderStatus(state.advisor.status);
  renderConversation(state.conversation);
  renderQueue(state.queue);
  renderFollowUps(state.follow_ups, timeZone);
}

// -- actions -------------------------------------------------------------------------------

function commandFor(form, submitter) {
  const value = (name) => form.elements[name]?.value ?? "";
  switch (form.dataset.action) {
    case "status":
      return ["advisor.status", { status: submitter?.value ?? "" }];
    case "accept":
      return ["request.accept", { request_id: Number(value("request_id")) }];
    case "accept-next":
      return ["request.accept", {}];
    case "decline":
      return ["request.decline", { request_id: Number(value("request_id")), message: value("message") }];
    case "end":
      return ["conversation.end", { conversation_id: Number(value("conversation_id")) }];
    case "transfer":
      return ["conversation.transfer", {
        conversation_id: Number(value("conversation_id")),
        booth_id: Number(value("booth_id")),
        advisor_id: value("advisor_id") ? Number(value("advisor_id")) : null,
        note: value("note"),
      }];
    case "extend":
      return ["conversation.extend", { conversation_id: Number(value("conversation_id")) }];
    case "note":
      return ["conversation.note", { conversation_id: Number(value("conversation_id")), notes: value("notes") }];
    default:
      return null;
  }
}

root.addEventListener("submit", async (event) => {
  const form = event.target;
  const command = commandFor(form, event.submitter);
  if (!command || !isConnected()) return; // the form posts as usual
  event.preventDefault();
  const buttons = [...form.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    await send(...command);
    clearError();
    if (form.dataset.action === "note") setText(field(form, "notes-saved"), t("notes_saved"));
    // The button pressed goes away with its item or panel: put focus where things continue.
    const next = { accept: "conversation-title", "accept-next": "conversation-title",
      end: "conversation-title", transfer: "conversation-title", decline: "queue-title",
      extend: "conversation-title" }[form.dataset.action];
    if (next) document.getElementById(next).focus();
  } catch (error) {
    showError(error.message);
  } finally {
    for (const button of buttons) if (button.isConnected) button.disabled = false;
  }
});

// -- live ----------------------------------------------------------------------------------

function onEvent(name, data) {
  if (name === "session.state") render(data.console);
  else if (name === "console.state") render(data);
  else if (name === "conversation.warning") tell(data.id, "warning", warningText(data.ends_at));
  else if (name === "conversation.time_up") tell(data.id, "time_up", t("time_up"));
  else if (name === "conversation.extended") extendTo(data);
}

// The first paint came from the server: start its timer, remember who is already waiting.
const firstPanel = slot.firstElementChild;
if (firstPanel) startTimer(firstPanel, firstPanel.dataset.conversationId);
// A call on the hall's own page that begins here (accepted on this or another device):
// straight into it.
const followCall = followCalls(firstPanel?.dataset.conversationId ?? "");
known = new Set([...queueList.querySelectorAll("li[data-request-id]")].map((li) => li.dataset.requestId));

connect({ onEvent });
