"""A "remote" Beam file system for tests: ``kdremote://PATH`` is ``FakeRemoteFS.root/PATH``.

Beam finds a file system by its scheme among ``FileSystem`` subclasses, so this class must be
defined once per process: test modules import it from here. It records every match and open,
so a test can tell whether the launcher or the pipeline expanded a remote input.
"""

from __future__ import annotations

from typing import ClassVar

from apache_beam.io.filesystem import FileMetadata, MatchResult
from apache_beam.io.localfilesystem import LocalFileSystem


class FakeRemoteFS(LocalFileSystem):
    """A "remote" file system (``kdremote://``) over a local folder, counting every match and
    open, so a test can see *where* remote inputs are expanded."""

    root = ""
    calls: ClassVar[list[str]] = []

    @classmethod
    def scheme(cls):
        return "kdremote"

    def _local(self, path: str) -> str:
        return self.root + "/" + path.removeprefix("kdremote://")

    def match(self, patterns, limits=None):
        self.calls.extend(patterns)
        results = super().match([self._local(p) for p in patterns], limits)
        cut = len(self.root) + 1  # matched paths stay remote, as a bucket listing returns them
        return [
            MatchResult(
                pattern,
                [
                    FileMetadata(
                        "kdremote://" + m.path[cut:], m.size_in_bytes, m.last_updated_in_seconds
                    )
                    for m in result.metadata_list
                ],
            )
            for pattern, result in zip(patterns, results, strict=True)
        ]

    def open(self, path, mime_type="application/octet-stream", compression_type="auto"):
        self.calls.append(path)
        return super().open(self._local(path), mime_type, compression_type)
