// The texts the pages show, built from view data the same way the templates build them
// (templates/_macros.html), so a live update reads exactly like the first paint.

import { serverNow, t, texts } from "./live.js";

const LANGUAGE = document.documentElement.lang || "nl";
// British English writes dates the way the server does ("Thursday 26 November").
const INTL_LOCALE = LANGUAGE === "en" ? "en-GB" : LANGUAGE;

export function queueText(n) {
  if (n === 0) return t("queue_empty");
  if (n === 1) return t("queue_one");
  return t("queue_many", { n });
}

// The estimated wait: in the hall ("Direct aan de beurt") or of one's own request; a range
// of minutes ({low, high}) when it is uncertain, else the single number.
export function waitText(minutes, { own = false, range = null } = {}) {
  if (minutes === null || minutes === undefined) return t("wait_none");
  const n = range ? range.high : minutes;
  if (n === 0) return own ? t("wait_now") : t("hall_wait_now");
  if (range && range.low !== range.high) {
    return t("wait_range", { low: range.low, high: range.high });
  }
  if (n === 1) return t("wait_one_minute");
  return t("wait_minutes", { n });
}

export function statusLabel(code) {
  return texts[`status.${code}`] ?? code;
}

export function label(kind, code) {
  return texts[`${kind}.${code}`] ?? code;
}

// HH:MM of an epoch time, in the event's time zone.
export function clock(seconds, timeZone) {
  if (seconds === null || seconds === undefined) return "";
  return new Intl.DateTimeFormat(INTL_LOCALE, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(new Date(seconds * 1000));
}

// Today's date (YYYY-MM-DD) in the event's time zone, by the server's clock.
export function today(timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    timeZone,
  }).formatToParts(new Date(serverNow() * 1000));
  const part = (type) => parts.find((p) => p.type === type)?.value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

// "dinsdag 25 november" for an ISO date.
export function dayLabel(isoDay) {
  return new Intl.DateTimeFormat(INTL_LOCALE, {
    weekday: "long",
    day: "numeric",
    month: "long",
    timeZone: "UTC",
  }).format(new Date(`${isoDay}T12:00:00Z`));
}

export function openingText(view, todayIso) {
  if (view.open_now) return view.closes ? t("open_until", { time: view.closes }) : t("open_now");
  if (view.opens_day && view.opens_day === todayIso) {
    return t("opens_today_at", { time: view.opens_time });
  }
  if (view.opens_day) {
    return t("opens_at", { day: dayLabel(view.opens_day), time: view.opens_time });
  }
  return t("closed_today");
}

export function mmss(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(seconds / 60))}:${pad(seconds % 60)}`;
}

// Only web links may become an href; anything else (javascript:, data:) becomes "#".
export function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : "#";
  } catch {
    return "#";
  }
}

// Set an element's text only when it changed, so nothing is re-read needlessly.
export function setText(element, text) {
  if (element && element.textContent !== text) element.textContent = text;
}

// The first element inside root with data-field="name".
export function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

// A fresh copy of a <template>'s first element.
export function fromTemplate(id) {
  const template = document.getElementById(id);
  return template.content.firstElementChild.cloneNode(true);
}

// The warning before the end, with the whole minutes left (at least one).
export function warningText(endsAt) {
  return t("warning", { n: Math.max(1, Math.round((endsAt - serverNow()) / 60)) });
}
