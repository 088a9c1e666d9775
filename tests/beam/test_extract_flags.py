"""The extract section of the interleaved job's flags: the fidelity fallback threshold."""

from __future__ import annotations

import json

import pytest

from pipelines.interleaved import SECTIONS, config_from_args, parser
from pipelines.options import parse_job


def _config(tmp_path, *flags):
    (tmp_path / "a.warc.gz").write_bytes(b"")
    argv = ["--input", str(tmp_path / "a.warc.gz"), "--output", str(tmp_path / "out"), *flags]
    return config_from_args(parse_job(parser(), SECTIONS, argv))


def test_fallback_threshold_flag_and_config_file(tmp_path):
    assert _config(tmp_path).extract.fallback_threshold == 0.0
    c = _config(tmp_path, "--extractor", "fast", "--extract-fallback-threshold", "0.7").extract
    assert (c.mode, c.fallback_threshold) == ("fast", 0.7)
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"extract": {"fallback_threshold": 0.6}}))
    assert _config(tmp_path, "--config", str(cfg_file)).extract.fallback_threshold == 0.6
    with pytest.raises(ValueError, match="fallback_threshold"):
        _config(tmp_path, "--extract-fallback-threshold", "2")
