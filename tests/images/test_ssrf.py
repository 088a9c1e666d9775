"""The SSRF guard refuses private targets before any connection, including via redirects.

Hosts resolve through an injected resolver (no DNS, no traffic); the only address ever
connected to is the local test server on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.ssrf import AddressGuard, BlockedURL, check_url, is_public_address
from kosmos_samples.image_server import Route

from .conftest import MapResolver

PRIVATE = [
    "10.0.0.5", "169.254.169.254", "127.0.0.1", "ff02::1", "192.168.1.1", "::1",
    "fe80::1", "100.64.0.1", "0.0.0.0", "::ffff:10.0.0.1", "fd00::1", "224.0.0.1",
]  # fmt: skip


@pytest.mark.parametrize("address", PRIVATE)
def test_non_public_addresses_are_refused(address):
    assert not is_public_address(address)
    guard = AddressGuard(resolver=MapResolver({"evil.example": [address]}))
    with pytest.raises(BlockedURL) as e:
        guard.resolve("evil.example", 80)
    assert e.value.reason == "blocked_address"


def test_public_address_passes_and_every_address_must_be_public():
    assert is_public_address("93.184.216.34") and is_public_address("2606:2800:220:1::1")
    guard = AddressGuard(resolver=MapResolver({"a.example": ["93.184.216.34"]}))
    assert guard.resolve("a.example", 80) == "93.184.216.34"
    mixed = AddressGuard(resolver=MapResolver({"b.example": ["93.184.216.34", "10.1.2.3"]}))
    with pytest.raises(BlockedURL):
        mixed.resolve("b.example", 80)
    # literal addresses are checked without the resolver
    with pytest.raises(BlockedURL):
        AddressGuard(resolver=MapResolver({})).resolve("[::1]", 80)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://x.example/a.jpg", "gopher://x/", "data:image/png;base64,AA"],
)
def test_non_http_schemes_are_refused(url):
    with pytest.raises(BlockedURL) as e:
        check_url(url)
    assert e.value.reason == "blocked_scheme"


def fetcher(resolver, server=None, **kw) -> ImageFetcher:
    allowed = frozenset({("127.0.0.1", server.port)}) if server else frozenset()
    cfg = ImageConfig(timeout_s=1.0, retries=0, retry_backoff_s=0, min_side=50, **kw)
    f = ImageFetcher(cfg, resolver, allowed)
    f.setup()
    return f


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "127.0.0.1", "ff02::1"])
def test_fetch_of_host_resolving_to_private_address_is_refused_before_connecting(address):
    resolver = MapResolver({"evil.example": [address]})
    f = fetcher(resolver)
    r = f.fetch("http://evil.example/cat.jpg")
    # robots.txt is fetched first through the same guard: refused, so nothing was sent
    assert r.reason in ("blocked_address", "robots_unreachable")
    f2 = fetcher(resolver, respect_robots=False)
    r2 = f2.fetch("http://evil.example/cat.jpg")
    assert (r2.reason, r2.attempts) == ("blocked_address", 1)
    assert "non-public" in r2.error


def test_redirect_into_private_space_is_refused(server):
    resolver = MapResolver({"evil.example": ["10.0.0.5"], "meta.example": ["169.254.169.254"]})
    server.routes["/to-private"] = Route.redirect("http://evil.example/x.jpg")
    server.routes["/to-metadata"] = Route.redirect("http://meta.example/latest/meta-data/")
    server.routes["/to-loopback"] = Route.redirect("http://127.0.0.1:9/x.jpg")
    server.routes["/to-file"] = Route.redirect("file:///etc/passwd")
    server.routes["/to-photo"] = Route.redirect("/photos/rocket.jpg")
    f = fetcher(resolver, server)
    got = {p: f.fetch(server.url(p)) for p in ("/to-private", "/to-metadata", "/to-loopback")}
    for p, r in got.items():
        assert r.reason == "blocked_address", (p, r)
        assert "redirect" in r.error
    assert f.fetch(server.url("/to-file")).reason == "blocked_scheme"
    # the same server redirecting to itself (an allowed endpoint) is followed
    ok = f.fetch(server.url("/to-photo"))
    assert ok.reason == "ok" and ok.original_width == 640
    # without the endpoint exemption, the test server itself is private and refused
    assert fetcher(resolver, respect_robots=False).fetch(server.url("/to-photo")).reason == (
        "blocked_address"
    )


def test_redirect_loops_stop(server):
    server.routes["/a"] = Route.redirect("/b")
    server.routes["/b"] = Route.redirect("/a")
    r = fetcher(MapResolver({}), server).fetch(server.url("/a"))
    assert r.reason == "too_many_redirects"
