"""The API documentation pages — Scalar at ``/schema/``, Swagger UI at ``/schema/swagger`` —
from the pinned copies in ``static/vendor/`` (no CDN: a deployment without internet access has
its docs). Litestar's own templates put the configuration (and, for Swagger, the whole schema)
in inline scripts, which the site's Content-Security-Policy forbids; these pages load a small
start-up script of ours instead, told where the schema is by a ``data-`` attribute."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from chorus.web.middleware import CSRF_COOKIE, CSRF_HEADER

SCALAR_JS = "/static/vendor/scalar-api-reference/standalone.js"
SWAGGER_JS = "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_PRESET_JS = "/static/vendor/swagger-ui-dist/swagger-ui-standalone-preset.js"
SWAGGER_CSS = "/static/vendor/swagger-ui-dist/swagger-ui.css"
DOCS_CSS = "/static/css/docs.css"
SCALAR_START = "/static/js/docs-scalar.js"
SWAGGER_START = "/static/js/docs-swagger.js"


def _page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{DOCS_CSS}">\n{head}</head>\n<body>\n{body}</body>\n</html>\n'
    ).encode()


class LocalScalarPlugin(ScalarRenderPlugin):
    def __init__(self, *, path: str = "/") -> None:
        super().__init__(js_url=SCALAR_JS, css_url="", path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        url = escape(self.get_openapi_json_route(request))
        return _page(
            openapi_schema["info"]["title"],
            "",
            "<noscript>The API reference needs JavaScript; the schema itself is at "
            f'<a href="{url}">{url}</a>.</noscript>\n'
            '<div id="app"></div>\n'
            f'<script src="{escape(self.js_url)}"></script>\n'
            f'<script src="{SCALAR_START}" data-url="{url}"></script>\n',
        )


class LocalSwaggerPlugin(SwaggerRenderPlugin):
    def __init__(self, *, path: str = "/swagger") -> None:
        super().__init__(
            js_url=SWAGGER_JS,
            css_url=SWAGGER_CSS,
            standalone_preset_js_url=SWAGGER_PRESET_JS,
            path=path,
            favicon="",
            style="",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        url = escape(self.get_openapi_json_route(request))
        return _page(
            openapi_schema["info"]["title"],
            f'<link rel="stylesheet" href="{escape(self.css_url)}">\n',
            '<div id="swagger-container"></div>\n'
            f'<script src="{escape(self.js_url)}"></script>\n'
            f'<script src="{escape(self.standalone_preset_js_url)}"></script>\n'
            f'<script src="{SWAGGER_START}" data-url="{url}"'
            f' data-csrf-cookie="{CSRF_COOKIE}" data-csrf-header="{CSRF_HEADER}"></script>\n',
        )


__all__ = ["LocalScalarPlugin", "LocalSwaggerPlugin"]
