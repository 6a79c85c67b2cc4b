// The moderator's announcements at the top of every page (templates/_announcements.html).
//
// The server renders the live ones on the first paint; this keeps them live: the full list
// comes with every session.state (so a reconnect or a page opened later is in sync), and
// announcements.state pushes replace the list of one audience ("all" on the hall topic,
// "advisors" for advisors and moderators), newer revisions only. A person can close one for
// themselves: it is remembered in this browser (localStorage) by its id and the time it was
// made (ids start again in a new event's database), and a new one shows again.
// Texts are set with textContent only.

import { connect, isStarted, listen } from "./live.js";

const region = document.getElementById("announcements");
const template = document.getElementById("announcement-template");
const STORE_KEY = "inzoomen.announcements.closed";
// Remember this many closed ids at most (the newest), so the list never grows without end.
const STORE_MAX = 50;
// Pages without a live script of their own still hear announcements when someone is
// signed in; anonymous visitors hear them in the hall.
const CONNECT_ROLES = new Set(["candidate", "advisor", "moderator"]);

function closedIds() {
  try {
    const ids = JSON.parse(window.localStorage.getItem(STORE_KEY) ?? "[]");
    return Array.isArray(ids) ? ids.map(String) : [];
  } catch {
    return [];
  }
}

function rememberClosed(key) {
  const ids = closedIds().filter((known) => known !== key);
  ids.push(key);
  try {
    window.localStorage.setItem(STORE_KEY, JSON.stringify(ids.slice(-STORE_MAX)));
  } catch {
    // Storage may be off (private mode): it stays closed on this page only.
  }
}

// The live announcements per audience, with the revision they were read at.
const audiences = { all: { rev: -1, items: null }, advisors: { rev: -1, items: null } };
const closedHere = new Set();

function build(item) {
  const element = template.content.firstElementChild.cloneNode(true);
  element.dataset.announcementId = String(item.id);
  element.dataset.audience = item.audience;
  element.dataset.createdAt = String(item.created_at);
  element.classList.remove("announcement-all");
  element.classList.add(`announcement-${item.audience}`);
  const label = element.querySelector('[data-field="label"]');
  label.textContent =
    item.audience === "advisors" ? template.dataset.labelAdvisors : template.dataset.labelAll;
  element.querySelector('[data-field="text"]').textContent = item.text;
  element.querySelector('[data-field="close"]').hidden = false;
  return element;
}

// What a closed announcement is remembered by.
function keyOf(id, createdAt) {
  return `${id}@${Number(createdAt)}`;
}

function elementKey(element) {
  return keyOf(element.dataset.announcementId, element.dataset.createdAt);
}

function isHidden(key) {
  return closedHere.has(key) || closedIds().includes(key);
}

// Move the focus out of an element that goes away, to the next close button or the page.
function remove(element) {
  if (element.contains(document.activeElement)) {
    const buttons = [...region.querySelectorAll('[data-field="close"]')];
    const next = buttons.find((button) => !element.contains(button));
    if (next) next.focus();
    else document.getElementById("main")?.focus();
  }
  element.remove();
}

function render() {
  if (audiences.all.items === null) return; // nothing heard yet: keep the first paint
  const wanted = [...audiences.all.items, ...(audiences.advisors.items ?? [])]
    .filter((item) => !isHidden(keyOf(item.id, item.created_at)))
    .sort((a, b) => b.created_at - a.created_at || b.id - a.id);
  const wantedIds = new Set(wanted.map((item) => String(item.id)));
  for (const element of [...region.querySelectorAll("[data-announcement-id]")]) {
    if (!wantedIds.has(element.dataset.announcementId)) remove(element);
  }
  let previous = null;
  for (const item of wanted) {
    const id = String(item.id);
    let element = [...region.children].find((child) => child.dataset.announcementId === id);
    if (!element) element = build(item);
    const place = previous ? previous.nextElementSibling : region.firstElementChild;
    // Only new or moved ones are inserted: an unchanged banner is not read out again.
    if (place !== element) region.insertBefore(element, place);
    previous = element;
  }
}

function take(audience, rev, items) {
  const held = audiences[audience];
  if (!held || typeof rev !== "number" || rev < held.rev) return false;
  held.rev = rev;
  held.items = items.filter((item) => item.audience === audience);
  return true;
}

listen((name, data) => {
  if (name === "session.state" && data?.announcements) {
    const { rev, announcements } = data.announcements;
    // A whole state: what this role may see, every audience at once.
    audiences.all.rev = -1;
    audiences.advisors.rev = -1;
    take("all", rev, announcements);
    take("advisors", rev, announcements);
    render();
  } else if (name === "announcements.state" && data) {
    if (take(data.audience, data.rev, data.announcements ?? [])) render();
  }
});

region?.addEventListener("click", (event) => {
  const button = event.target.closest('[data-field="close"]');
  if (!button) return;
  const element = button.closest("[data-announcement-id]");
  const key = elementKey(element);
  closedHere.add(key);
  rememberClosed(key);
  remove(element);
});

// The first paint: the close buttons work now, and what this browser closed stays closed.
for (const element of [...(region?.querySelectorAll("[data-announcement-id]") ?? [])]) {
  if (isHidden(elementKey(element))) element.remove();
  else element.querySelector('[data-field="close"]').hidden = false;
}

// Closed in another tab of this browser: gone here too.
window.addEventListener("storage", (event) => {
  if (event.key !== STORE_KEY || !region) return;
  for (const element of [...region.querySelectorAll("[data-announcement-id]")]) {
    if (isHidden(elementKey(element))) remove(element);
  }
});

if (region && !isStarted() && CONNECT_ROLES.has(document.body.dataset.role)) connect();
