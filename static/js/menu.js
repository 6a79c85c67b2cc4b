// The "Menu" button of the site header on narrow screens (templates/base.html): it opens
// and closes the rest of the menu below the most used links. The style sheet hides that
// part only where scripts run (@media (scripting: enabled)), so without this script every
// link is listed; from 60em the button is not shown and the whole menu stands in a row.
// Escape closes the open menu and brings the focus back to the button.

const toggle = document.querySelector(".nav-toggle[aria-controls]");
const menu = toggle ? document.getElementById(toggle.getAttribute("aria-controls")) : null;

function isOpen() {
  return toggle.getAttribute("aria-expanded") === "true";
}

function setOpen(open) {
  toggle.setAttribute("aria-expanded", String(open));
}

if (toggle && menu) {
  toggle.addEventListener("click", () => setOpen(!isOpen()));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !isOpen()) return;
    const focus = document.activeElement;
    if (focus !== toggle && !menu.contains(focus)) return;
    setOpen(false);
    toggle.focus();
  });
}
