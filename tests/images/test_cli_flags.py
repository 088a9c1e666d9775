"""Image flags of the interleaved job, and the ``kosmos-data images`` command."""

from __future__ import annotations

import json

import pytest

from kosmos_cli.images import main as images_main
from kosmos_data.images.phash import read_hash_file
from kosmos_samples.photos import photos_dir
from pipelines.interleaved import SECTIONS, config_from_args, parser
from pipelines.options import parse_job


def _config(tmp_path, *flags):
    (tmp_path / "a.warc.gz").write_bytes(b"")
    argv = ["--input", str(tmp_path / "a.warc.gz"), "--output", str(tmp_path / "out"), *flags]
    return config_from_args(parse_job(parser(), SECTIONS, argv))


def test_image_flags_and_config_file(tmp_path):
    assert _config(tmp_path).images.fetch is False  # no network unless asked
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"images": {"image_size": 256, "max_aspect_ratio": 3.0}}))
    c = _config(
        tmp_path, "--config", str(cfg_file), "--fetch-images", "--image-size", "128",
        "--resize-mode", "border", "--image-timeout", "2.5", "--image-retries", "0",
        "--image-threads", "4", "--user-agent", "me/1.0", "--allow-private-addresses",
        "--image-min-side", "64", "--phash-threshold", "6", "--image-mirror", "http://m/",
    ).images  # fmt: skip
    assert (c.fetch, c.image_size, c.resize_mode, c.timeout_s, c.retries, c.threads) == (
        True, 128, "border", 2.5, 0, 4)  # fmt: skip
    assert (c.user_agent, c.allow_private_addresses, c.min_side, c.phash_threshold) == (
        "me/1.0", True, 64, 6)  # fmt: skip
    assert (c.max_aspect_ratio, c.mirror) == (3.0, "http://m/")  # from the file
    assert _config(tmp_path, "--fetch-images", "--no-fetch-images").images.fetch is False
    with pytest.raises(ValueError, match="status_from"):
        _config(tmp_path, "--image-status-from", str(tmp_path / "out"))
    with pytest.raises(ValueError, match="no status shards"):
        _config(tmp_path, "--image-status-from", str(tmp_path))
    with pytest.raises(ValueError, match="resize_mode"):
        _config(tmp_path, "--config", _write(tmp_path, {"images": {"resize_mode": "x"}}))


def _write(tmp_path, obj) -> str:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    return str(p)


def test_hash_eval_command(tmp_path, capsys):
    out = tmp_path / "eval.phash"
    assert images_main(["hash-eval", str(photos_dir()), "--out", str(out)]) == 0
    hashes = read_hash_file(out, "224/center_crop/jpg95")
    assert sorted(hashes) == sorted(p.name for p in photos_dir().iterdir())
    assert "6 evaluation image hashes" in capsys.readouterr().out
    assert images_main(["status", str(tmp_path)]) == 2
