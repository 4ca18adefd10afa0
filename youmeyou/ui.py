"""The canvas (``/ui``) and the operations view (``/ui/ops``): pages bundled at install time.

``make install`` builds ``ui/`` (TypeScript, npm's registry) into ``youmeyou/ui_bundle``; this
module only serves those files. The pages hold no data: they are public, and everything they
show comes from A2A and ``/v1/...`` calls made with the caller's own token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["BUNDLE_DIR", "PAGES_PREFIX", "ui_routes"]

BUNDLE_DIR = Path(__file__).with_name("ui_bundle")
PAGES_PREFIX = "/ui"
_PAGES = {"": "canvas.html", "/ops": "ops.html"}
# The pages load only their own scripts and styles and talk only to this server.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_NOT_BUILT = (
    "The canvas is not built: run `make install` (it runs `npm ci` and `npm run build` in ui/)."
)


def ui_routes(bundle: Path = BUNDLE_DIR) -> list[BaseRoute]:
    """``/ui``, ``/ui/ops`` and their assets, or a 503 that says how to build them."""
    if not all((bundle / page).is_file() for page in _PAGES.values()):
        return [
            Route(PAGES_PREFIX, _not_built, methods=["GET"]),
            Route(PAGES_PREFIX + "/{rest:path}", _not_built, methods=["GET"]),
        ]
    routes: list[BaseRoute] = [
        Route(PAGES_PREFIX + suffix, _page(bundle / page), methods=["GET"])
        for suffix, page in _PAGES.items()
    ]
    routes.append(Mount(PAGES_PREFIX + "/assets", StaticFiles(directory=bundle), name="ui-assets"))
    return routes


def _page(path: Path) -> Callable[[Request], Awaitable[Response]]:
    async def page(_: Request) -> Response:
        return FileResponse(path, media_type="text/html", headers=_PAGE_HEADERS)

    return page


async def _not_built(_: Request) -> Response:
    return JSONResponse({"error": {"code": 503, "message": _NOT_BUILT}}, status_code=503)
