// Chorus pages: small improvements on top of forms that already work without JavaScript.
// Loaded as an ES module after htmx (static/vendor/htmx.org); nothing inline (the CSP forbids it).

const body = document.body;
const csrfCookie = body.dataset.csrfCookie || "csrftoken";
const csrfHeader = body.dataset.csrfHeader || "x-csrftoken";

export function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
}

// Every htmx request carries the CSRF token in its header (the session cookie's writes need it).
document.addEventListener("htmx:configRequest", (event) => {
  const token = cookie(csrfCookie);
  if (token) event.detail.headers[csrfHeader] = token;
});

// A network failure shows the page's retry notice; retrying repeats the failed request.
const netError = document.getElementById("net-error");
let failed = null;
document.addEventListener("htmx:sendError", (event) => {
  failed = event.detail.requestConfig || null;
  if (netError) netError.hidden = false;
});
document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.successful && netError) netError.hidden = true;
});
netError?.querySelector("[data-retry]")?.addEventListener("click", () => {
  netError.hidden = true;
  if (failed && window.htmx) {
    const { verb, path, elt, target, parameters } = failed;
    window.htmx.ajax(verb.toUpperCase(), path, { source: elt, target, values: parameters });
  } else {
    window.location.reload();
  }
});

// After a form comes back with errors, take the keyboard (and screen readers) to them.
const formError = document.getElementById("form-error");
if (formError) formError.focus();
