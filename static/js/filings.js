// The filings page (/cases/{id}/organize/filings): htmx refreshes each live filing's news every
// 30 seconds (organize/filings_live.html, which holds the forms answering a reply's proposed
// status). Two refreshes are not wanted:
// - while someone is answering in that part (a field focused or changed): it would wipe what
//   they typed; the next refresh comes 30 seconds later, or the page's own reload;
// - one that came back from somewhere else — the session ended and the answer is the login page:
//   the part keeps what it showed, and its reload link leads to the login page as any page would.
function editing(part) {
  const active = document.activeElement;
  if (active && part.contains(active) && active.matches("input, select, textarea, button")) return true;
  for (const field of part.querySelectorAll("textarea, input:not([type=hidden])")) {
    if (field.value !== field.defaultValue) return true;
  }
  for (const option of part.querySelectorAll("option")) {
    if (option.selected !== option.defaultSelected) return true;
  }
  return false;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const part = event.detail.elt;
  if (part?.matches?.("[data-filing-live]") && editing(part)) event.preventDefault();
});

document.addEventListener("htmx:beforeSwap", (event) => {
  const { elt, xhr, requestConfig } = event.detail;
  if (!elt?.matches?.("[data-filing-live]") || !xhr || !requestConfig) return;
  const answered = new URL(xhr.responseURL || requestConfig.path, window.location.href).pathname;
  const asked = new URL(requestConfig.path, window.location.href).pathname;
  if (answered !== asked) event.detail.shouldSwap = false;
});
