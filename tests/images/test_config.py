import pytest

from kosmos_data.images import ImageConfig


@pytest.mark.parametrize(
    ("field", "value"),
    [("image_size", 0), ("resize_mode", "stretch"), ("timeout_s", 0), ("threads", 0),
     ("max_aspect_ratio", 0.5), ("phash_threshold", 40), ("user_agent", "a\nb"),
     ("user_agent_token", "bad token"), ("formats", ("SVG",)), ("mirror", "ftp://x/"),
     ("min_side", 30_000)],
)  # fmt: skip
def test_invalid_fields_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        ImageConfig(**{field: value})


def test_defaults_and_mirror():
    c = ImageConfig()
    assert (c.image_size, c.resize_mode, c.min_side, c.max_aspect_ratio) == (
        224, "center_crop", 150, 2.0)  # fmt: skip
    assert c.fetch_url("https://img.x.test/a/b.jpg?w=1") == "https://img.x.test/a/b.jpg?w=1"
    m = ImageConfig(mirror="http://127.0.0.1:8000/")
    assert (
        m.fetch_url("https://img.x.test/a/b.jpg?w=1")
        == "http://127.0.0.1:8000/img.x.test/a/b.jpg?w=1"
    )
