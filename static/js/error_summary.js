// Move focus to the error summary, so keyboard and screen reader users start there.
const summary = document.querySelector('[data-testid="error-summary"]');
if (summary) summary.focus();
