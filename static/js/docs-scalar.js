// Starts the vendored Scalar API reference on /schema/ (no inline script: the CSP forbids it).
const start = document.currentScript;
Scalar.createApiReference("#app", {
  url: start.dataset.url,
  withDefaultFonts: false, // the fonts would come from Scalar's CDN
});
