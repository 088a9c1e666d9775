"""A local image server for tests, benchmarks and the demo (127.0.0.1 only).

``ImageServer`` is a threaded ``http.server`` on ``127.0.0.1:<free port>`` used as a context
manager. It serves:

* ``/robots.txt`` (``robots_txt``; ``None`` gives 404),
* ``/photos/<name>``: the files of ``photos_dir`` (e.g. ``../shared/data/images``),
* scripted paths (``server.route(path, Route...)``): 404s, stalls, corrupt bytes,
  ``X-Robots-Tag: noai``, redirects, huge declared sizes ...,
* any other path as a *crawl image*: the last path component's stem (up to the first ``-``
  or ``.``, which is the ``image_id`` of ``kosmos_samples.crawl`` URLs such as
  ``.../2025/06/3f2a9c01b7de-800w.jpg``) picks one of the photos by a stable hash, unless
  ``server.by_id[image_id]`` scripts a behaviour for it; with ``unique_crawl_images`` each
  id gets its own crop of that photo (``unique_variant``).

With ``ImageConfig.mirror`` set to ``server.mirror_base`` the image stage fetches
``https://img.example-cdn.test/2025/06/x.jpg`` as ``<mirror>/img.example-cdn.test/2025/06/x.jpg``
and the original URL stays the image's identity, so the generated crawl's images can be
fetched end to end without any network access.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif"}

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"


@dataclass(frozen=True)
class Route:
    """A scripted response."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # sleep after the headers, before the body (a stalled server)
    content_type: str = "image/jpeg"

    @classmethod
    def not_found(cls) -> Route:
        return cls(404, b"not found", content_type="text/plain")

    @classmethod
    def stall(cls, seconds: float, body: bytes = b"x") -> Route:
        return cls(200, body, delay_s=seconds)

    @classmethod
    def corrupt(cls) -> Route:
        return cls(200, b"\xff\xd8\xff\xe0 this is not really a JPEG " * 8)

    @classmethod
    def noai(cls, body: bytes, directive: str = "noai") -> Route:
        return cls(200, body, headers=(("X-Robots-Tag", directive),))

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Route:
        return cls(status, b"", headers=(("Location", location),), content_type="text/plain")


@dataclass
class _State:
    photos: dict[str, bytes] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    by_id: dict[str, Route] = field(default_factory=dict)
    robots_txt: str | None = DEFAULT_ROBOTS
    hits: dict[str, int] = field(default_factory=dict)
    unique: bool = False
    synthesize: Callable[[str], bytes] | None = None
    variants: dict[str, bytes] = field(default_factory=dict)
    user_agents: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def image_id_of(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.split(".", 1)[0].split("-", 1)[0]


class _Handler(BaseHTTPRequestHandler):
    server_version = "kosmos-image-server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self) -> None:
        st: _State = self.server.state  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        with st.lock:
            st.hits[path] = st.hits.get(path, 0) + 1
            st.user_agents.add(self.headers.get("User-Agent", ""))
        route = self._route(st, path)
        try:
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            for k, v in route.headers:
                self.send_header(k, v)
            self.end_headers()
            if route.delay_s:
                self.wfile.flush()
                time.sleep(route.delay_s)
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, st: _State, path: str) -> Route:
        if path in st.routes:
            return st.routes[path]
        if path == "/robots.txt":
            if st.robots_txt is None:
                return Route.not_found()
            return Route(200, st.robots_txt.encode(), content_type="text/plain")
        if path.startswith("/.well-known/"):  # e.g. tdmrep.json: script it in ``routes``
            return Route.not_found()
        if path.startswith("/photos/"):
            name = path[len("/photos/") :]
            if name in st.photos:
                return Route(200, st.photos[name], content_type=_content_type(name))
            return Route.not_found()
        image_id = image_id_of(path)
        if image_id in st.by_id:
            return st.by_id[image_id]
        if not image_id:
            return Route.not_found()
        if st.photos:
            name = photo_for(image_id, sorted(st.photos))
            if not st.unique:
                return Route(200, st.photos[name], content_type=_content_type(name))
            photo = st.photos[name]
            return Route(200, _variant(st, image_id, lambda i: unique_variant(photo, i)))
        if st.synthesize is not None:
            return Route(200, _variant(st, image_id, st.synthesize))
        return Route.not_found()


def _variant(st: _State, image_id: str, render: Callable[[str], bytes]) -> bytes:
    """The JPEG rendered for ``image_id``, made once per server (rendering is the slow part;
    two threads racing on one id render the same bytes, so the lock only guards the dict)."""
    with st.lock:
        data = st.variants.get(image_id)
    if data is None:
        data = render(image_id)
        with st.lock:
            st.variants[image_id] = data
    return data


def _content_type(name: str) -> str:
    return _TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def unique_variant(photo: bytes, image_id: str) -> bytes:
    """A JPEG of its own for ``image_id``: a crop of 55-75% of the photo at an offset, maybe
    mirrored, all chosen by a hash of the id — other bytes and (almost always) another
    pHash, so a generated crawl with thousands of images is not six photos deduplicated.
    Two ids can still land on near-identical crops; the image stage then drops one as
    ``duplicate_phash``, as it should."""
    h = hashlib.sha1(("variant/" + image_id).encode()).digest()
    with Image.open(io.BytesIO(photo)) as im:
        im = im.convert("RGB")
        w, height = im.size
        frac = 0.55 + 0.2 * h[0] / 255
        cw, ch = int(w * frac), int(height * frac)
        x, y = int((w - cw) * h[1] / 255), int((height - ch) * h[2] / 255)
        im = im.crop((x, y, x + cw, y + ch))
        if h[3] & 1:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        return buf.getvalue()


def photo_for(image_id: str, names: list[str]) -> str:
    """The photo a crawl image id is served as (stable across runs and processes)."""
    h = int.from_bytes(hashlib.sha1(image_id.encode()).digest()[:4], "big")
    return names[h % len(names)]


class ImageServer:
    """``with ImageServer(photos_dir) as s: s.url('/photos/rocket.jpg')``."""

    def __init__(
        self,
        photos_dir: str | Path | None = None,
        robots_txt: str | None = DEFAULT_ROBOTS,
        unique_crawl_images: bool = False,
        port: int = 0,
        synthesize: Callable[[str], bytes] | None = None,
    ) -> None:
        """``synthesize(image_id) -> bytes`` renders crawl images when there is no
        ``photos_dir`` (the demo uses ``kosmos_samples.synthetic.synthetic_photo``)."""
        self.requested_port = port
        self.state = _State(
            robots_txt=robots_txt, unique=unique_crawl_images, synthesize=synthesize
        )
        if photos_dir is not None:
            d = Path(photos_dir)
            if not d.is_dir():
                raise FileNotFoundError(f"photos directory not found: {d}")
            for f in sorted(d.iterdir()):
                if f.suffix.lower() in _TYPES:
                    self.state.photos[f.name] = f.read_bytes()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting
    @property
    def routes(self) -> dict[str, Route]:
        return self.state.routes

    @property
    def by_id(self) -> dict[str, Route]:
        return self.state.by_id

    @property
    def photos(self) -> dict[str, bytes]:
        return self.state.photos

    def hits(self, path: str) -> int:
        with self.state.lock:
            return self.state.hits.get(path, 0)

    @property
    def user_agents(self) -> set[str]:
        with self.state.lock:
            return set(self.state.user_agents)

    # lifecycle
    def __enter__(self) -> ImageServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", self.requested_port), _Handler)
        httpd.daemon_threads = True
        httpd.state = self.state  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "use ImageServer as a context manager"
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mirror_base(self) -> str:
        return self.base + "/"

    def url(self, path: str) -> str:
        return self.base + path
