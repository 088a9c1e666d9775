from __future__ import annotations

import dataclasses

import pytest

from kosmos_data.extract import ExtractConfig, make_extractor


def test_defaults_are_fast_and_frozen():
    cfg = ExtractConfig()
    assert cfg.mode == "fast"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mode = "fidelity"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "slow"}, "mode"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": -1.0}, "timeout_s"),
        ({"min_declared_px": -5}, "min_declared_px"),
        ({"srcset_max_width": 0}, "srcset_max_width"),
        ({"max_images": -1}, "max_images"),
        ({"main_min_share": 1.5}, "main_min_share"),
        ({"list_link_density": 0.0}, "list_link_density"),
        ({"check_every_nodes": 0}, "check_every_nodes"),
    ],
)
def test_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ExtractConfig(**kwargs)


def test_make_extractor_modes():
    assert make_extractor(ExtractConfig(mode="fast")).name == "fast"
    assert make_extractor(ExtractConfig(mode="fidelity")).name == "fidelity"


def test_fallback_threshold_validated_with_field_name():
    import pytest

    from kosmos_data.extract import ExtractConfig

    assert ExtractConfig().fallback_threshold == 0.0
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="fallback_threshold"):
            ExtractConfig(fallback_threshold=bad)
