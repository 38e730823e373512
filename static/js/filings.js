// The filings page (/cases/{id}/organize/filings): htmx refreshes each live filing's news every
// 30 seconds (organize/filings_live.html). A refresh that came back from somewhere else — the
// session ended and the answer is the login page — is not swapped in: the part keeps what it
// showed, and its reload link leads to the login page as any page would.
document.addEventListener("htmx:beforeSwap", (event) => {
  const { elt, xhr, requestConfig } = event.detail;
  if (!elt?.matches?.("[data-filing-live]") || !xhr || !requestConfig) return;
  const answered = new URL(xhr.responseURL || requestConfig.path, window.location.href).pathname;
  const asked = new URL(requestConfig.path, window.location.href).pathname;
  if (answered !== asked) event.detail.shouldSwap = false;
});
