"""Fixtures for the image stage: a DNS stand-in and a local server of the real photos
(``kosmos_samples.photos``)."""

from __future__ import annotations

import pytest

from kosmos_samples.image_server import ImageServer
from kosmos_samples.photos import photos_dir


class MapResolver:
    """A DNS stand-in: host -> addresses, no network traffic (picklable for Beam)."""

    def __init__(self, mapping: dict[str, list[str]]) -> None:
        self.mapping = mapping
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.mapping:
            raise OSError(f"unknown host {host}")
        return self.mapping[host]


@pytest.fixture
def server():
    with ImageServer(photos_dir()) as s:
        yield s
