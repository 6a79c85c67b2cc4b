from __future__ import annotations

import pytest

from app.core.config import DEFAULT_SECRET_KEY, ConfigError, load_settings


def test_defaults_are_safe_for_a_demo() -> None:
    settings = load_settings({})
    assert settings.environment == "development"
    assert settings.ws_max_message_bytes == 64 * 1024
    # Room for the largest real form, the booth import of up to 1,000,000 bytes.
    assert settings.max_body_bytes == 2 * 1024 * 1024


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ConfigError, match="INZOOMEN_SECRET_KEY"):
        load_settings({"INZOOMEN_ENV": "production"})
    with pytest.raises(ConfigError, match="INZOOMEN_SECRET_KEY"):
        load_settings({"INZOOMEN_ENV": "production", "INZOOMEN_SECRET_KEY": DEFAULT_SECRET_KEY})
    ok = load_settings(
        {
            "INZOOMEN_ENV": "production",
            "INZOOMEN_SECRET_KEY": "x" * 40,
            "INZOOMEN_ALLOWED_HOSTS": "hal.example.nl",
        }
    )
    assert ok.environment == "production"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INZOOMEN_ENV": "staging"}, "INZOOMEN_ENV"),
        ({"INZOOMEN_WS_MAX_BYTES": "lots"}, "INZOOMEN_WS_MAX_BYTES"),
        ({"INZOOMEN_HTTPS_ONLY": "maybe"}, "INZOOMEN_HTTPS_ONLY"),
        ({"INZOOMEN_SECRET_KEY": "short"}, "16 characters"),
        ({"INZOOMEN_MAX_BODY_BYTES": "2MB"}, "INZOOMEN_MAX_BODY_BYTES must be a whole number"),
        ({"INZOOMEN_MAX_BODY_BYTES": "1000"}, "INZOOMEN_MAX_BODY_BYTES must be at least 65536"),
    ],
)
def test_bad_settings_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_allowed_origins_are_parsed() -> None:
    settings = load_settings({"INZOOMEN_ALLOWED_ORIGINS": "https://a.example/, https://b.example"})
    assert settings.allowed_origins == ("https://a.example", "https://b.example")


def test_allowed_hosts_default_to_this_machine_and_production_must_name_them() -> None:
    assert load_settings({}).hosts == ("127.0.0.1", "localhost", "::1")
    with_origin = load_settings({"INZOOMEN_ALLOWED_ORIGINS": "https://hal.example.nl:8443"})
    assert with_origin.hosts == ("127.0.0.1", "localhost", "::1", "hal.example.nl")
    named = load_settings({"INZOOMEN_ALLOWED_HOSTS": " Hal.Example.NL. , [::1], *.beurs.nl"})
    assert named.hosts == ("hal.example.nl", "::1", "*.beurs.nl")
    production = {"INZOOMEN_ENV": "production", "INZOOMEN_SECRET_KEY": "x" * 40}
    with pytest.raises(ConfigError, match="INZOOMEN_ALLOWED_HOSTS is not set"):
        load_settings(production)
    # The origins are not enough there: the names are given outright.
    with pytest.raises(ConfigError, match="INZOOMEN_ALLOWED_HOSTS is not set"):
        load_settings({**production, "INZOOMEN_ALLOWED_ORIGINS": "https://hal.example.nl"})
    for bad in ("hal.example.nl:443", "https://hal.example.nl", "hal example", "*.*.nl", "a..nl"):
        with pytest.raises(ConfigError, match="INZOOMEN_ALLOWED_HOSTS holds host names"):
            load_settings({"INZOOMEN_ALLOWED_HOSTS": bad})
