// The hall: keeps every booth card live, filters without reloading, and shows the
// candidate's own request in a banner.

import { announce, connect, t } from "./live.js";
import { followCalls } from "./enter_call.js";
import {
  field,
  fromTemplate,
  label,
  openingText,
  queueText,
  setText,
  statusLabel,
  today,
  waitText,
} from "./format.js";

const grid = document.getElementById("booths");
const form = document.getElementById("filters");
const count = document.getElementById("booth-count");
const empty = document.getElementById("no-booths");
const banner = document.getElementById("my-request-banner");
let timeZone = grid.dataset.timezone;

// -- one booth card ------------------------------------------------------------------------

function renderAdvisor(item, boothId, advisor) {
  item.dataset.advisorId = advisor.id;
  setText(field(item, "advisor-name"), advisor.name);
  const badge = item.querySelector(".status");
  badge.className = `status status-${advisor.status}`;
  badge.dataset.status = advisor.status;
  badge.dataset.advisorId = advisor.id;
  badge.dataset.testid = `advisor-status-${advisor.id}`;
  setText(badge, statusLabel(advisor.status));
  const link = field(item, "advisor-zoom");
  link.href = `/inzoomen/${boothId}?adviseur=${advisor.id}`;
  link.dataset.testid = `zoom-in-advisor-${advisor.id}`;
  link.hidden = advisor.status === "offline";
  setText(link, t("zoom_in_with", { name: advisor.name }));
}

// Update the advisors in place (keeps keyboard focus on a link that stays).
function renderAdvisors(list, view) {
  const existing = new Map();
  for (const item of list.querySelectorAll(":scope > li[data-advisor-id]")) {
    existing.set(item.dataset.advisorId, item);
  }
  view.advisors.forEach((advisor, index) => {
    const key = String(advisor.id);
    const item = existing.get(key) ?? fromTemplate("advisor-template");
    existing.delete(key);
    renderAdvisor(item, view.id, advisor);
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  });
  for (const item of existing.values()) item.remove();
}

function renderOffers(list, offers) {
  if (list.dataset.offers === offers.join(",")) return;
  list.dataset.offers = offers.join(",");
  list.replaceChildren(
    ...offers.map((code) => {
      const item = document.createElement("li");
      item.className = "offer";
      item.dataset.offer = code;
      item.textContent = label("offer", code);
      return item;
    }),
  );
}

function renderBooth(card, view) {
  card.id = `booth-${view.id}`;
  card.dataset.testid = `booth-${view.id}`;
  card.dataset.boothId = view.id;
  card.dataset.sector = view.sector;
  card.dataset.offers = view.offers.join(",");
  card.dataset.open = view.open_now ? "1" : "0";
  card.dataset.present = view.present ? "1" : "0";
  // Closed by the moderator (the booth or the whole event): no zooming in, whatever else.
  card.dataset.closed = view.closed || view.event_closed ? "1" : "0";
  card.setAttribute("aria-labelledby", `booth-${view.id}-name`);

  const name = field(card, "name");
  name.id = `booth-${view.id}-name`;
  setText(name, view.name);
  setText(field(card, "kind"), label("kind", view.kind));
  setText(field(card, "sector"), label("sector", view.sector));
  setText(field(card, "description"), view.description);
  const opening = field(card, "opening");
  opening.classList.toggle("is-open", view.open_now);
  opening.dataset.testid = `opening-${view.id}`;
  let openingLine = openingText(view, today(timeZone));
  if (view.event_closed) openingLine = t("event_closed");
  else if (view.closed) openingLine = t("closed_by_moderator");
  setText(opening, openingLine);
  renderOffers(field(card, "offers"), view.offers);
  renderAdvisors(field(card, "advisors"), view);

  const queue = field(card, "queue");
  queue.dataset.testid = `queue-${view.id}`;
  setText(queue, queueText(view.queue_length));
  const wait = field(card, "wait");
  wait.dataset.testid = `wait-${view.id}`;
  setText(wait, waitText(view.wait_minutes, { range: view.wait_range }));
  const zoom = field(card, "zoom");
  zoom.href = `/inzoomen/${view.id}`;
  zoom.dataset.testid = `zoom-in-${view.id}`;
  zoom.setAttribute("aria-label", t("zoom_in_with", { name: view.name }));
}

function showBooth(view) {
  let card = document.getElementById(`booth-${view.id}`);
  if (!card) {
    card = fromTemplate("booth-template");
    grid.append(card);
  }
  renderBooth(card, view);
  return card;
}

// -- filters -------------------------------------------------------------------------------

function currentFilters() {
  const data = new FormData(form);
  return {
    sector: data.get("sector") || "",
    offer: data.get("offer") || "",
    open: data.get("open") === "1",
  };
}

// The same rule as the server's (app/web.py, _matches).
function matches(card, filters) {
  if (filters.sector && card.dataset.sector !== filters.sector) return false;
  if (filters.offer && !card.dataset.offers.split(",").includes(filters.offer)) return false;
  if (filters.open && card.dataset.closed === "1") return false;
  return !(filters.open && card.dataset.open !== "1" && card.dataset.present !== "1");
}

function applyFilters() {
  const filters = currentFilters();
  let visible = 0;
  for (const card of grid.querySelectorAll(":scope > .booth")) {
    card.hidden = !matches(card, filters);
    if (!card.hidden) visible += 1;
  }
  const text = visible === 1 ? t("booth_count_one") : t("booth_count", { n: visible });
  setText(count, text);
  empty.hidden = visible > 0;
  return text;
}

function filtersChanged() {
  const text = applyFilters();
  const filters = currentFilters();
  const query = new URLSearchParams();
  if (filters.sector) query.set("sector", filters.sector);
  if (filters.offer) query.set("offer", filters.offer);
  if (filters.open) query.set("open", "1");
  const search = query.toString();
  window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  announce(empty.hidden ? text : empty.textContent);
}

form.addEventListener("change", filtersChanged);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  filtersChanged();
});

// -- the candidate's own request -----------------------------------------------------------

function renderBanner(me) {
  if (!banner) return;
  const request = me?.request;
  const conversation = me?.conversation;
  let text = "";
  if (conversation && conversation.ended_at == null) {
    text = t("banner_conversation", { booth: conversation.booth_name });
  } else if (request && request.status === "waiting") {
    text = t("banner_waiting", { booth: request.booth_name, n: request.position });
  }
  const textField = field(banner, "text");
  // A new place in the queue or a call that starts is told once; the banner is not live.
  if (text && text !== textField.textContent.trim()) {
    announce(text, Boolean(conversation && conversation.ended_at == null));
  }
  setText(textField, text);
  banner.hidden = text === "";
}

// -- live ----------------------------------------------------------------------------------

function onEvent(name, data) {
  if (name === "session.state") {
    timeZone = data.hall.event.timezone || timeZone;
    const seen = new Set();
    for (const view of data.hall.booths) seen.add(showBooth(view));
    for (const card of grid.querySelectorAll(":scope > .booth")) {
      if (!seen.has(card)) card.remove();
    }
    applyFilters();
    if ("me" in data) {
      renderBanner(data.me);
      followCall(data.me?.conversation);
    }
  } else if (name === "hall.delta") {
    for (const view of data.booths) showBooth(view);
    for (const id of data.removed) document.getElementById(`booth-${id}`)?.remove();
    applyFilters();
  } else if (name === "me.state") {
    renderBanner(data);
    followCall(data.conversation);
  }
}

// A call on the hall's own page that begins while the hall is open: straight into it.
const followCall = followCalls();

connect({ onEvent });
