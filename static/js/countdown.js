// The shared timer of a conversation. The server owns the end time; this only shows
// endsAt - serverNow() as MM:SS, and "Uitloop +MM:SS" after it. It never ends anything.
//
// The element is not a live region (it would talk every second): the caller announces the
// warning and the time up once, from onWarning and onTimeUp.

import { serverNow, t } from "./live.js";
import { mmss } from "./format.js";

const TICK_MS = 250;

export function startCountdown(element, endsAt, warningSeconds, { onWarning, onTimeUp } = {}) {
  const display = element.querySelector('[data-field="time"]') ?? element;
  let warned = false;
  let timeUp = false;

  function tick() {
    const remaining = endsAt - serverNow();
    const whole = Math.ceil(remaining);
    if (element.dataset.remaining !== String(whole)) element.dataset.remaining = String(whole);
    const text = remaining > 0 ? mmss(whole) : `${t("overtime")} +${mmss(-remaining)}`;
    if (display.textContent !== text) display.textContent = text;

    if (!warned && remaining <= warningSeconds) {
      warned = true;
      element.classList.add("warning");
      // Opened after the end already? Then only the time up is worth telling.
      if (remaining > 0) onWarning?.();
    }
    if (!timeUp && remaining <= 0) {
      timeUp = true;
      element.classList.add("overtime");
      onTimeUp?.();
    }
  }

  tick();
  const timer = window.setInterval(tick, TICK_MS);
  return {
    stop() {
      window.clearInterval(timer);
    },
  };
}
