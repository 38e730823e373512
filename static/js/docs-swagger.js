// Starts the vendored Swagger UI on /schema/swagger (no inline script: the CSP forbids it).
const start = document.currentScript;
const csrfCookie = start.dataset.csrfCookie;
const csrfHeader = start.dataset.csrfHeader;

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
}

window.ui = SwaggerUIBundle({
  url: start.dataset.url,
  dom_id: "#swagger-container",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  // "Try it out" with the session cookie: unsafe requests echo the CSRF cookie in its header.
  requestInterceptor: (request) => {
    const token = csrfCookie && cookie(csrfCookie);
    if (token) request.headers[csrfHeader] = token;
    return request;
  },
});
