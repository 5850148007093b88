"""Server settings and their validation (newsdedup.config)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from newsdedup.config import DEFAULT_PORT, Settings, without_password
from newsdedup.signatures import OnePermutationHasher


def test_defaults_are_valid_and_documented_values() -> None:
    """Settings() is valid and holds the documented defaults."""
    settings = Settings()
    assert settings.port == DEFAULT_PORT
    assert settings.address == f"127.0.0.1:{DEFAULT_PORT}"
    assert not settings.in_memory
    assert settings.near_lsh_threshold <= settings.near_threshold


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", -1),
        ("port", 65536),
        ("durability", "fsync"),
        ("durability", ""),
        ("workers", 0),
        ("max_text_bytes", 0),
        ("max_message_bytes", -5),
        ("max_batch_size", 0),
        ("max_id_length", 0),
        ("max_matches", 0),
        ("grace_period", -0.5),
        ("grace_period", math.nan),
        ("shutdown_delay", -1.0),
        ("shutdown_delay", math.inf),
        ("num_perm", 15),
        ("num_perm", 1025),
        ("seed", -1),
        ("seed", 2**32),
        ("shingle_size", 0),
        ("shingle_size", 11),
        ("salient_terms", 7),
        ("salient_terms", 1025),
        ("centroid_cache", 0),
        ("near_threshold", 1.0),
        ("near_threshold", 1.5),
        ("near_threshold", math.nan),
        ("near_lsh_threshold", 0.0),
        ("near_lsh_threshold", -0.1),
        ("story_threshold", 0.0),
        ("story_threshold", 1.0),
        ("story_merge_threshold", 1.0),
        ("story_merge_threshold", math.nan),
        ("max_concurrent_rpcs", 0),
        ("max_articles", -1),
        ("when_full", "drop"),
        ("retention_days", -1.0),
        ("retention_days", math.nan),
        ("story_window_days", 0.0),
        ("story_window_days", -1.0),
        ("story_window_days", 36_501.0),
        ("story_window_days", math.nan),
        ("story_lsh_threshold", 1.0),
        ("story_lsh_threshold", math.inf),
        ("term_prior_weight", -1.0),
        ("term_prior_weight", math.nan),
        ("term_prior_weight", math.inf),
        ("log_level", "VERBOSE"),
    ],
    ids=lambda value: str(value),
)
def test_invalid_value_is_rejected_naming_field_and_value(field: str, value: object) -> None:
    """Each out-of-range value fails at construction with a ValueError that names the field and the value."""
    with pytest.raises(ValueError) as raised:
        Settings(**{field: value})
    message = str(raised.value)
    assert field in message
    assert str(value) in message or repr(value) in message


def test_near_lsh_threshold_above_near_threshold_is_rejected() -> None:
    """The LSH threshold may not exceed the near-duplicate threshold; the message names both values."""
    with pytest.raises(ValueError, match=r"near_lsh_threshold \(0\.6\) must not exceed near_threshold \(0\.5\)"):
        Settings(near_threshold=0.5, near_lsh_threshold=0.6)


def test_story_merge_threshold_below_story_threshold_is_rejected() -> None:
    """Clusters may not merge on less similarity than an article needs to join one; the message names both."""
    with pytest.raises(ValueError, match=r"story_merge_threshold \(0\.2\) must not be below story_threshold \(0\.25\)"):
        Settings(story_threshold=0.25, story_merge_threshold=0.2)


def test_every_problem_is_reported_at_once() -> None:
    """Several bad values are all named in one error, so a config is fixed in one go."""
    with pytest.raises(ValueError) as raised:
        Settings(port=70000, workers=0, durability="async")
    message = str(raised.value)
    assert "port" in message and "70000" in message
    assert "workers" in message and "durability" in message and "'async'" in message


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 0},
        {"port": 65535},
        {"durability": "normal"},
        {"grace_period": 0.0},
        {"num_perm": 16},
        {"num_perm": 1024},
        {"seed": 0},
        {"seed": 2**32 - 1},
        {"shingle_size": 1},
        {"shingle_size": 10},
        {"salient_terms": 8},
        {"centroid_cache": 1},
        {"near_threshold": 0.3, "near_lsh_threshold": 0.3},
        {"near_threshold": 0.999, "near_lsh_threshold": 0.001},
        {"term_prior_weight": 0.0},
        {"log_level": "debug"},
        {"data_dir": ""},
    ],
    ids=lambda changes: ",".join(f"{k}={v}" for k, v in changes.items()),
)
def test_boundary_values_are_accepted(changes: dict[str, object]) -> None:
    """Values at the edges of each allowed range are valid."""
    settings = Settings(**changes)
    assert all(getattr(settings, name) == value for name, value in changes.items())


@pytest.mark.parametrize("seed", [0, 2**32 - 1], ids=["zero", "largest"])
def test_every_valid_seed_makes_a_hasher(seed: int) -> None:
    """Any seed the settings accept seeds the one-permutation hashers and their numpy probe sequences."""
    settings = Settings(seed=seed)
    for num_perm in (settings.num_perm, settings.story_num_perm):
        signature = OnePermutationHasher(num_perm, settings.seed).sign(np.arange(10, dtype=np.uint64))
        assert signature.shape == (num_perm,)


def test_replace_validates_too() -> None:
    """A changed copy is validated like a new Settings, and the original is untouched."""
    settings = Settings()
    assert settings.replace(port=0).port == 0
    with pytest.raises(ValueError, match="port"):
        settings.replace(port=-1)
    assert settings.port == DEFAULT_PORT


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after validation."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = -1  # type: ignore[misc]


def test_in_memory_when_data_dir_is_empty() -> None:
    """An empty data_dir means nothing is written to disk."""
    assert Settings(data_dir="").in_memory


def test_describe_lists_every_field_with_help() -> None:
    """describe() gives every field, in declaration order, with its type, default and a help sentence."""
    described = Settings.describe()
    defaults = Settings()
    assert [name for name, *_ in described] == [f.name for f in dataclasses.fields(Settings)]
    for name, kind, default, help_text in described:
        assert default == getattr(defaults, name), name
        assert type(default) is kind, name
        assert len(help_text) > 10 and help_text[0].isupper() and help_text.endswith("."), name


def test_env_var_names() -> None:
    """Each setting's environment variable is NEWSDEDUP_ plus its upper-case name."""
    assert Settings.env_var("near_lsh_threshold") == "NEWSDEDUP_NEAR_LSH_THRESHOLD"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@redis-host:6379/0", "redis://:***@redis-host:6379/0"),
        ("rediss://newsdedup:s3c:ret@redis-host/1", "rediss://newsdedup:***@redis-host/1"),
        ("redis://newsdedup@redis-host/1", "redis://newsdedup@redis-host/1"),
        ("redis://:p%40ss@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("redis+sentinel://:s3cret@s1:26379,s2:26379/news/0", "redis+sentinel://:***@s1:26379,s2:26379/news/0"),
        ("unix:///run/redis.sock?db=0&password=s3cret", "unix:///run/redis.sock?db=0&password=***"),
        ("redis://redis-host/0?PASSWORD=s3cret&socket_timeout=2", "redis://redis-host/0?PASSWORD=***&socket_timeout=2"),
    ],
)
def test_a_store_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert without_password(url) == shown


def test_a_bad_store_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ValueError) as raised:
        Settings(store="http://admin:s3cret@redis-host:6379/0")
    assert "http://admin:***@redis-host:6379/0" in str(raised.value)
    assert "s3cret" not in str(raised.value)
