"""Serve the portal and the console: two HTML pages and their assets, from the package.

Every asset is a file of this package (no CDN, nothing fetched at run time). Pages are sent with
a Content-Security-Policy that allows scripts, styles and requests to this origin only, so the
pages cannot leak a dropped file's fingerprint or an auditor's key anywhere else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

STATIC = Path(str(resources.files(__package__) / "static"))
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
PAGES = {"portal": "portal.html", "console": "console.html"}


def _headers(content_type: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


async def page(request: web.Request) -> web.Response:
    """GET /portal/ and /console/ — the page (its routes live after ``#``)."""
    name = PAGES[request.match_info["page"]]
    return web.Response(body=(STATIC / name).read_bytes(), headers=_headers(ASSET_TYPES[".html"]))


async def redirect(request: web.Request) -> web.Response:
    """GET /portal and /console — to the page with its trailing slash."""
    raise web.HTTPPermanentRedirect(f"/{request.match_info['page']}/")


async def asset(request: web.Request) -> web.Response:
    """GET /web/{name} — a script, style sheet or image of this package (flat, no sub-paths)."""
    name = request.match_info["name"]
    path = STATIC / name
    kind = ASSET_TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), headers=_headers(kind))


def setup(app: web.Application) -> None:
    """Register the pages and their assets."""
    r = app.router
    r.add_get(r"/{page:portal|console}/", page)
    r.add_get(r"/{page:portal|console}", redirect)
    r.add_get(r"/web/{name:[A-Za-z0-9_.-]+}", asset)
