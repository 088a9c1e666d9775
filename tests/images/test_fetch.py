"""Fetch outcomes against the local server: every reason, sizes, opt-outs, caps."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from kosmos_data.images import ImageConfig, ImageFetcher
from kosmos_data.images.config import USER_AGENT_TOKEN
from kosmos_samples.image_server import ImageServer, Route
from kosmos_samples.photos import encode, photos_dir, solid


def make(server: ImageServer | None = None, **kw) -> ImageFetcher:
    base = dict(allow_private_addresses=True, timeout_s=1.0, retries=1, retry_backoff_s=0)
    f = ImageFetcher(ImageConfig(**{**base, **kw}))
    f.setup()
    return f


def test_real_photos_are_fetched_resized_and_described(server):
    f = make()
    urls = [server.url(f"/photos/{n}") for n in sorted(server.photos)]
    results = list(f.fetch_many(urls))
    assert [r.url for r in results] == urls
    for r in results:
        assert r.reason == "ok", r
        assert (r.width, r.height) == (224, 224) and r.http_status == 200 and r.attempts == 1
        with Image.open(io.BytesIO(r.data)) as im:
            assert im.format == "JPEG" and im.size == (224, 224)
        assert len(r.sha256) == 64 and len(r.phash) == 16
    by_name = {r.url.rsplit("/", 1)[-1]: r for r in results}
    rocket = by_name["rocket.jpg"]
    assert (rocket.original_width, rocket.original_height) == (640, 427)
    assert by_name["chelsea.png"].original_format == "PNG"
    assert len({r.phash for r in results}) == 6  # different photos, different hashes
    agents = server.user_agents
    assert agents and all(a.startswith(USER_AGENT_TOKEN + "/") for a in agents)


def test_resize_modes(server):
    url = server.url("/photos/rocket.jpg")  # 640x427
    r = make(resize_mode="keep_ratio").fetch(url)
    assert (r.width, r.height, r.original_width, r.original_height) == (336, 224, 640, 427)
    r = make(resize_mode="border", image_size=128).fetch(url)
    assert (r.width, r.height) == (128, 128)
    r = make(resize_mode="no").fetch(url)
    assert (r.width, r.height) == (640, 427)


def test_failures_are_named(server):
    server.routes["/404.jpg"] = Route.not_found()
    server.routes["/500.jpg"] = Route(503, b"busy", content_type="text/plain")
    server.routes["/stall.jpg"] = Route.stall(3.0)
    server.routes["/corrupt.jpg"] = Route.corrupt()
    server.routes["/empty.jpg"] = Route(200, b"")
    server.routes["/noai.jpg"] = Route.noai(server.photos["rocket.jpg"])
    server.routes["/noimageai.jpg"] = Route.noai(server.photos["rocket.jpg"], "noimageai, nofollow")
    server.routes["/otherbot.jpg"] = Route.noai(server.photos["rocket.jpg"], "otherbot: noai")
    ours = f"{USER_AGENT_TOKEN}: noai"
    server.routes["/ours.jpg"] = Route.noai(server.photos["rocket.jpg"], ours)
    server.routes["/small.png"] = Route(200, solid(100, 100))
    server.routes["/wide.png"] = Route(200, solid(600, 200))
    server.routes["/icon.ico"] = Route(200, encode(Image.new("RGB", (256, 256)), "ICO"))
    f = make()
    got = {p: f.fetch(server.url(p)) for p in server.routes}
    want = {
        "/404.jpg": ("http_error", 404, 1),
        "/500.jpg": ("http_error", 503, 2),  # retried once
        "/stall.jpg": ("timeout", 200, 2),  # the status came before the body stalled
        "/corrupt.jpg": ("undecodable", 200, 1),
        "/empty.jpg": ("empty_body", 200, 1),
        "/noai.jpg": ("x_robots_tag", 200, 1),
        "/noimageai.jpg": ("x_robots_tag", 200, 1),
        "/otherbot.jpg": ("ok", 200, 1),  # a directive for another crawler does not apply
        "/ours.jpg": ("x_robots_tag", 200, 1),
        "/small.png": ("too_small", 200, 1),
        "/wide.png": ("aspect_ratio", 200, 1),
        "/icon.ico": ("bad_format", 200, 1),
    }
    assert {p: (r.reason, r.http_status, r.attempts) for p, r in got.items()} == want
    assert server.hits("/noai.jpg") == 1 and server.hits("/stall.jpg") == 2
    assert got["/small.png"].original_width == 100 and got["/small.png"].data == b""


def test_robots_txt_is_fetched_once_and_obeyed(server):
    # default server robots.txt: "User-agent: *  Disallow: /private/"
    f = make()
    paths = ("/private/x.jpg", "/photos/chelsea.png")
    urls = [server.url(p) for p in paths] * 3
    assert [r.reason for r in f.fetch_many(urls)] == ["robots_disallowed", "ok"] * 3
    assert server.hits("/robots.txt") == 1 and server.hits("/private/x.jpg") == 0
    assert make(respect_robots=False).fetch(urls[0]).reason == "ok"


def test_robots_group_for_our_token_wins_over_star():
    robots = (
        f"User-agent: {USER_AGENT_TOKEN}\nDisallow: /photos/rocket.jpg\n\n"
        "User-agent: *\nDisallow: /private/\n"
    )
    with ImageServer(photos_dir(), robots_txt=robots) as s:
        paths = ("/photos/rocket.jpg", "/photos/chelsea.png", "/private/x.jpg")
        reasons = [r.reason for r in make().fetch_many([s.url(p) for p in paths])]
        assert reasons == ["robots_disallowed", "ok", "ok"]  # our group replaces "*" (RFC 9309)


@pytest.mark.parametrize(
    ("route", "reason"),
    [(Route(503, b""), "robots_unreachable"), (Route(403, b""), "robots_disallowed"),
     (Route(404, b""), "ok"),
     (Route.stall(3.0, b"User-agent: *\nAllow: /\n"), "robots_unreachable")],
)  # fmt: skip
def test_robots_status_semantics(server, route, reason):
    server.routes["/robots.txt"] = route
    assert make(retries=0).fetch(server.url("/photos/rocket.jpg")).reason == reason


def test_byte_cap_and_decompression_bomb(server):
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG")  # ~12 KB declaring 100 Mpx
    assert len(bomb) < 100_000
    server.routes["/bomb.png"] = Route(200, bomb, content_type="image/png")
    f = make(max_bytes=200_000)
    assert f.fetch(server.url("/bomb.png")).reason == "decompression_bomb"
    assert f.fetch(server.url("/photos/astronaut.png")).reason == "too_large"  # 790 KB
    # without Content-Length the streamed body is cut at the cap too
    assert make(max_bytes=100_000).fetch(server.url("/photos/rocket.jpg")).reason == "too_large"
