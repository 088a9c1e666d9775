"""Safety flags and config sections of the interleaved job, validated at the edge."""

from __future__ import annotations

import json

import pytest

from kosmos_data.images import ImageConfig
from kosmos_data.safety.optout import OptOutConfig
from kosmos_data.safety.pii import PiiConfig
from pipelines.interleaved import SECTIONS, config_from_args, parser
from pipelines.options import parse_job


def _config(tmp_path, *flags):
    (tmp_path / "a.warc.gz").write_bytes(b"")
    argv = ["--input", str(tmp_path / "a.warc.gz"), "--output", str(tmp_path / "out"), *flags]
    return config_from_args(parse_job(parser(), SECTIONS, argv))


def test_defaults_on_and_flags_turn_them_off(tmp_path):
    c = _config(tmp_path)
    assert c.optout.enabled and c.pii.enabled and c.images.nsfw_filter
    assert (c.images.nsfw_image_threshold, c.images.nsfw_document_threshold) == (0.5, 0.8)
    hashes = tmp_path / "bad.txt"
    hashes.write_text("c2924c5532bddfc8 x\n")
    c = _config(
        tmp_path, "--no-honour-optouts", "--no-redact-pii", "--no-nsfw-filter",
        "--nsfw-image-threshold", "0.3", "--nsfw-document-threshold", "0.9",
        "--block-image-hashes", str(hashes),
    )  # fmt: skip
    assert not c.optout.enabled and not c.pii.enabled and not c.images.nsfw_filter
    assert (c.images.nsfw_image_threshold, c.images.nsfw_document_threshold) == (0.3, 0.9)
    assert c.images.block_hashes == str(hashes)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"pii": {"phones": False}, "optout": {"honour_tdm": False}}))
    c = _config(tmp_path, "--config", str(cfg))
    assert c.pii.phones is False and c.optout.honour_tdm is False


def test_nsfw_precision_flag(tmp_path):
    assert _config(tmp_path).images.nsfw_precision == "fp32"
    assert _config(tmp_path, "--nsfw-precision", "int8").images.nsfw_precision == "int8"
    assert _config(tmp_path, "--images-nsfw-precision", "int8").images.nsfw_precision == "int8"
    vnni = _config(tmp_path, "--nsfw-precision", "int8-vnni")
    assert vnni.images.nsfw_precision == "int8-vnni"
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"images": {"nsfw_precision": "int8"}}))
    assert _config(tmp_path, "--config", str(cfg)).images.nsfw_precision == "int8"
    with pytest.raises(ValueError, match="invalid choice: 'fp16'"):
        _config(tmp_path, "--nsfw-precision", "fp16")
    cfg.write_text(json.dumps({"images": {"nsfw_precision": "fp16"}}))
    with pytest.raises(ValueError, match="nsfw_precision"):
        _config(tmp_path, "--config", str(cfg))


def test_bad_values_name_the_field():
    with pytest.raises(ValueError, match="nsfw_document_threshold must be >="):
        ImageConfig(nsfw_image_threshold=0.9, nsfw_document_threshold=0.5)
    with pytest.raises(ValueError, match="nsfw_image_threshold"):
        ImageConfig(nsfw_image_threshold=1.5)
    with pytest.raises(ValueError, match="user_agent_tokens"):
        OptOutConfig(user_agent_tokens=("bad token",))
    with pytest.raises(ValueError, match="email_placeholder"):
        PiiConfig(email_placeholder="")


def test_bad_hash_list_is_a_clear_error(tmp_path):
    from kosmos_data.images import ImageFetcher

    bad = tmp_path / "pdq.txt"
    bad.write_text("f" * 64 + "\n")
    with pytest.raises(ValueError, match="PDQ hash"):  # before the job starts
        _config(tmp_path, "--block-image-hashes", str(bad))
    with pytest.raises(ValueError, match="PDQ hash"):
        ImageFetcher(ImageConfig(block_hashes=str(bad), nsfw_filter=False)).setup()
    with pytest.raises(FileNotFoundError, match="block-image-hashes"):
        ImageFetcher(ImageConfig(block_hashes=str(tmp_path / "nope"), nsfw_filter=False)).setup()
