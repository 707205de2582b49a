"""The bundled demo: four loopback origins that between them use every consent mechanism.

`gallery` (an illustrator): robots.txt Content-Usage with paths, AI crawlers blocked from /sketches/
(inferred), a disallowed /drafts/, ai.txt denying PNGs, `X-Robots-Tag: noai`, a page whose
`noimageai` meta reaches its images, and images carrying their own C2PA/CAWG and IPTC XMP reservations.
`newsroom` (a publisher): Content-Signal, TDMRep file + HTML meta layering, an RSL licence offered for
pay-per-crawl, a `Content-Usage` response header. `mirror`: robots.txt answers 503, so nothing there is
fetched. `plain`: no signals at all, so its assets are kept with `unknown` verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from consentry.crawler.demo.server import Route, SiteServer

__all__ = ["ORIGINS", "DemoSite", "start_demo"]

#: The demo origins, in port order, with what each shows.
ORIGINS = {
    "gallery": "an illustrator: robots.txt Content-Usage, AI-crawler groups, ai.txt, noai, C2PA and IPTC images",
    "newsroom": "a publisher: Content-Signal, TDMRep file and HTML meta, an RSL licence, a Content-Usage header",
    "mirror": "robots.txt answers 503, so nothing there may be fetched",
    "plain": "no signals at all: everything is kept with unknown verdicts",
}


def _asset(name: str) -> bytes:
    return (resources.files("consentry.crawler.demo") / "assets" / name).read_bytes()


def _page(title: str, body: str, head: str = "") -> Route:
    html = (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{head}</head>"
            f"<body><h1>{title}</h1>{body}</body></html>")
    return Route.text(html, "text/html; charset=utf-8")


def _image(name: str, *headers: tuple[str, str], body: bytes | None = None) -> Route:
    kind = "image/png" if name.endswith(".png") else "image/jpeg"
    return Route(200, (("Content-Type", kind), *headers), body if body is not None else _asset(name))


def _links(*paths: str) -> str:
    return "<ul>" + "".join(f'<li><a href="{p}">{p}</a></li>' for p in paths) + "</ul>"


def _provenance(origin: str) -> dict[str, Route]:
    """Images that carry their creator's word inside them (C2PA/CAWG, IPTC XMP) or point to it (Link)."""
    names = ("c2pa-notallowed.jpg", "c2pa-allowed.jpg", "c2pa-allowed-tampered.jpg", "c2pa-constrained.png",
             "xmp-prohibited.jpg")
    routes = {f"/provenance/{name}": _image(name) for name in names}
    link = (("Link", f'<{origin}/provenance/remote.c2pa>; rel="c2pa-manifest"'),)
    routes["/provenance/remote.jpg"] = _image("c2pa-remote.jpg", *link)
    routes["/provenance/remote.c2pa"] = Route(200, (("Content-Type", "application/c2pa"),), _asset("c2pa-remote.c2pa"))
    images = "".join(f'<img src="{path}" alt="">' for path in routes if not path.endswith(".c2pa"))
    routes["/provenance/"] = _page("Provenance", "<p>Each image carries its own terms.</p>" + images)
    return routes


def _gallery(origin: str) -> dict[str, Route]:
    robots = ("# The gallery: an illustrator's portfolio\nUser-agent: *\nAllow: /\nDisallow: /drafts/\n"
              "Content-Usage: /blog/ train-ai=y\nContent-Usage: /portfolio/ train-ai=n\n\n"
              "User-agent: GPTBot\nUser-agent: CCBot\nUser-agent: Google-Extended\nDisallow: /sketches/\n")
    routes = {
        "/robots.txt": Route.text(robots),
        "/ai.txt": Route.text("# Spawning AI\nUser-agent: *\nDisallow: *.png\nAllow: /\n"),
        "/": _page("Gallery", _links("/blog/", "/portfolio/", "/provenance/", "/about.html", "/drafts/wip.html")
                   + '<img src="/sketches/sketch.jpg" alt="sketch">'),
        "/blog/": _page("Blog", '<p>Training welcome here.</p><img src="/blog/photo.jpg" alt="">'
                        '<img src="/blog/poster.png" alt="">'),
        "/blog/photo.jpg": _image("photo.jpg"),
        "/blog/poster.png": _image("poster.png"),
        "/portfolio/": _page("Portfolio", '<img src="/portfolio/landscape.jpg" alt="">'),
        "/portfolio/landscape.jpg": _image("landscape.jpg", ("X-Robots-Tag", "noai")),
        "/about.html": _page("About", '<img src="/about/portrait.jpg" alt="me">',
                             '<meta name="robots" content="noimageai">'),
        "/about/portrait.jpg": _image("portrait.jpg"),
        "/drafts/wip.html": _page("Work in progress", "<p>not for crawlers</p>"),
        "/sketches/sketch.jpg": _image("sketch.jpg"),
    }
    routes.update(_provenance(origin))
    return routes


def _newsroom(origin: str) -> dict[str, Route]:
    robots = (f"User-agent: *\nContent-Signal: search=yes, ai-input=no\nAllow: /\n\nLicense: {origin}/license.xml\n")
    tdmrep = [{"location": "/archive/", "tdm-reservation": 1},
              {"location": "/", "tdm-reservation": 0, "tdm-policy": f"{origin}/tdm-policy.json"}]
    licence = ('<rsl xmlns="https://rslstandard.org/rsl"><content url="/premium/*"><license>'
               '<permits type="usage">ai-train</permits><payment type="crawl">'
               '<amount currency="USD">0.01</amount></payment></license></content></rsl>')
    return {
        "/robots.txt": Route.text(robots),
        "/.well-known/tdmrep.json": Route.text(json.dumps(tdmrep), "application/json"),
        "/license.xml": Route.text(licence, "application/rsl+xml"),
        "/": _page("Newsroom", _links("/news/open.html", "/news/reserved.html", "/news/no-train.html",
                                      "/archive/2024.html", "/premium/story.html")),
        "/news/open.html": _page("Open story", "<p>TDM not reserved.</p>"),
        "/news/reserved.html": _page("Reserved story", "<p>Reserved in the page itself.</p>",
                                     '<meta name="tdm-reservation" content="1">'),
        "/news/no-train.html": Route(200, (("Content-Type", "text/html"), ("Content-Usage", "train-ai=n")),
                                     b"<!doctype html><title>No training</title><p>AIPREF header.</p>"),
        "/archive/2024.html": _page("Archive", "<p>Reserved by tdmrep.json.</p>"),
        "/premium/story.html": _page("Premium", "<p>Licensable via RSL, pay per crawl.</p>"),
    }


def _mirror() -> dict[str, Route]:
    return {"/robots.txt": Route.text("<html><body>Service Unavailable</body></html>", "text/html", status=503),
            "/": _page("Mirror", '<img src="/copy.jpg" alt="">'), "/copy.jpg": _image("landscape.jpg")}


def _plain() -> dict[str, Route]:
    return {"/": _page("Plain", '<img src="/photo.jpg" alt="">' + _links("/notes.html")),
            "/photo.jpg": _image("photo.jpg"), "/notes.html": _page("Notes", "<p>No signals here.</p>")}


@dataclass
class DemoSite:
    """The running demo origins, by name."""

    servers: dict[str, SiteServer]

    @property
    def start_urls(self) -> list[str]:
        """One start URL per origin."""
        return [server.url("/") for server in self.servers.values()]

    def stop(self) -> None:
        """Stop every origin."""
        for server in self.servers.values():
            server.stop()


def start_demo(port: int = 0) -> DemoSite:
    """Start the demo origins on free loopback ports, or on `port`, `port + 1`… in `ORIGINS` order; a port that
    cannot be bound raises `OSError` (the origins already started are stopped)."""
    servers: dict[str, SiteServer] = {}
    try:
        for offset, name in enumerate(ORIGINS):
            servers[name] = SiteServer({}, port + offset if port else 0).start()
    except OSError:
        DemoSite(servers).stop()
        raise
    builders: dict[str, Callable[[str], dict[str, Route]]] = {"gallery": _gallery, "newsroom": _newsroom,
                "mirror": lambda o: _mirror(), "plain": lambda o: _plain()}
    for name, server in servers.items():
        for path, route in builders[name](server.origin).items():
            server.set_route(path, route)
    return DemoSite(servers)
