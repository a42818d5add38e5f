"""Serve the portal, the console and the signer's page: HTML pages and their assets, from the
package.

Every asset is a file of this package (no CDN, nothing fetched at run time). Pages are sent with
a Content-Security-Policy that allows scripts, styles and requests to this origin only, so the
pages cannot leak a dropped file's fingerprint or an auditor's key anywhere else.

Framing: by default no page may be embedded (CSP ``frame-ancestors 'none'`` and, for browsers
without CSP level 2, ``X-Frame-Options: DENY``). With the ``frame_ancestors`` setting, the
pages may be embedded by exactly those origins (an OA portal): the CSP names them and
``X-Frame-Options`` is left out, since it cannot express a list (its ``ALLOW-FROM`` is obsolete
and ignored by current browsers) and a ``DENY`` would override the CSP in some.
"""

from __future__ import annotations

from collections.abc import Sequence
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
CSP_BASE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'"
)
CSP = f"{CSP_BASE}; frame-ancestors 'none'"
PAGES = {"portal": "portal.html", "console": "console.html", "sign": "sign.html"}
#: the pages served at ``/{name}/`` by :func:`setup` (the signer's page is served by its own
#: route, ``/sign/{token}``, through :func:`page`)
ROUTED = ("portal", "console")
#: the pages' security headers, set by :func:`setup`
PAGE_HEADERS = web.AppKey("page_headers", dict[str, str])
#: marks a response made by :func:`page`, whose security headers :func:`setup` completes
_PAGE_MARK = web.ResponseKey("sealtrail_page", bool)


def security_headers(frame_ancestors: Sequence[str] = ()) -> dict[str, str]:
    """The headers every page and asset is sent with; ``frame_ancestors`` (CSP host-sources or
    ``'self'``, already validated by the settings) may embed the pages, none if empty."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    if frame_ancestors:
        headers["Content-Security-Policy"] = (
            f"{CSP_BASE}; frame-ancestors {' '.join(frame_ancestors)}"
        )
    else:
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
    return headers


def _headers(request: web.Request, content_type: str) -> dict[str, str]:
    page_headers = request.config_dict[PAGE_HEADERS]
    return {"Content-Type": content_type, **page_headers}


def page(name: str, status: int = 200) -> web.Response:
    """The page ``name`` (a key of :data:`PAGES`) as a response with status ``status``.

    The response carries the strictest headers (no framing) and is marked, so that an app set up
    by :func:`setup` sends it with that app's page headers (its ``frame_ancestors``) instead.
    The body does not depend on ``status``: the signer's page answers an invalid link with 404
    and the very same bytes, so the status is the only difference a link's holder sees.
    Raises ``KeyError`` for a name that is not a page."""
    resp = web.Response(
        status=status,
        body=(STATIC / PAGES[name]).read_bytes(),
        headers={"Content-Type": ASSET_TYPES[".html"], **security_headers()},
    )
    resp[_PAGE_MARK] = True
    return resp


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a response made by :func:`page` gets this app's page headers."""
    if response.get(_PAGE_MARK):
        for name in ("Content-Security-Policy", "X-Frame-Options"):
            response.headers.popall(name, None)
        response.headers.update(request.config_dict[PAGE_HEADERS])


async def serve_page(request: web.Request) -> web.Response:
    """GET /portal/ and /console/ — the page (its routes live after ``#``)."""
    return page(request.match_info["page"])


async def redirect(request: web.Request) -> web.Response:
    """GET /portal and /console — to the page with its trailing slash. The Location is
    relative (RFC 9110 §10.2.2), so it holds behind a proxy whatever host name it serves."""
    raise web.HTTPPermanentRedirect(f"{request.match_info['page']}/")


async def asset(request: web.Request) -> web.Response:
    """GET /web/{name} — a script, style sheet or image of this package (flat, no sub-paths)."""
    name = request.match_info["name"]
    path = STATIC / name
    kind = ASSET_TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), headers=_headers(request, kind))


def setup(app: web.Application, frame_ancestors: Sequence[str] = ()) -> None:
    """Register the pages and their assets; ``frame_ancestors`` may embed them."""
    app[PAGE_HEADERS] = security_headers(frame_ancestors)
    r = app.router
    app.on_response_prepare.append(_page_headers)
    routed = "|".join(ROUTED)
    r.add_get(rf"/{{page:{routed}}}/", serve_page)
    r.add_get(rf"/{{page:{routed}}}", redirect)
    r.add_get(r"/web/{name:[A-Za-z0-9_.-]+}", asset)
