"""ICE servers for the video call: settings, and the RTCConfiguration each participant gets."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from app.core.config import ConfigError, load_settings
from app.domain.ice import client_config, turn_credential, turn_username

TURN = "turn:turn.example.org:3478?transport=udp"
TURNS = "turns:turn.example.org:5349"
SECRET = "north-wind-static-auth-secret"


def test_nothing_configured_means_no_ice_servers() -> None:
    settings = load_settings({})
    assert settings.stun_urls == ()
    assert settings.turn_urls == ()
    assert settings.ice_relay_only is False
    assert client_config(settings, "candidate-1", 1_700_000_000) == {
        "iceServers": [],
        "iceTransportPolicy": "all",
    }


def test_stun_only() -> None:
    settings = load_settings(
        {"INZOOMEN_STUN_URLS": " stun:stun.example.org:3478 , stuns:stun.example.org:5349,"}
    )
    assert settings.stun_urls == ("stun:stun.example.org:3478", "stuns:stun.example.org:5349")
    config = client_config(settings, "advisor-3", 1_700_000_000)
    assert config == {
        "iceServers": [{"urls": ["stun:stun.example.org:3478", "stuns:stun.example.org:5349"]}],
        "iceTransportPolicy": "all",
    }


def test_turn_with_a_secret_hands_out_ephemeral_credentials() -> None:
    settings = load_settings(
        {
            "INZOOMEN_STUN_URLS": "stun:stun.example.org",
            "INZOOMEN_TURN_URLS": f"{TURN},{TURNS}",
            "INZOOMEN_TURN_SECRET": SECRET,
            "INZOOMEN_TURN_TTL_SECONDS": "600",
        }
    )
    config = client_config(settings, "candidate-12", 1_700_000_000.7)
    stun, turn = config["iceServers"]
    assert stun == {"urls": ["stun:stun.example.org"]}
    assert turn["urls"] == [TURN, TURNS]
    # coturn's REST API scheme, computed here independently of app.domain.ice.
    assert turn["username"] == "1700000600:candidate-12"
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"1700000600:candidate-12", hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert config["iceTransportPolicy"] == "all"


def test_default_ttl_is_two_hours_and_expiry_follows_now() -> None:
    settings = load_settings({"INZOOMEN_TURN_URLS": TURN, "INZOOMEN_TURN_SECRET": SECRET})
    assert settings.turn_ttl_seconds == 7200
    early = client_config(settings, "advisor-3", 1_000_000)["iceServers"][0]
    later = client_config(settings, "advisor-3", 1_000_060)["iceServers"][0]
    assert early["username"] == "1007200:advisor-3"
    assert later["username"] == "1007260:advisor-3"
    assert early["credential"] != later["credential"]


def test_each_participant_gets_credentials_of_their_own() -> None:
    settings = load_settings({"INZOOMEN_TURN_URLS": TURN, "INZOOMEN_TURN_SECRET": SECRET})
    a = client_config(settings, "candidate-1", 5000)["iceServers"][0]
    b = client_config(settings, "advisor-1", 5000)["iceServers"][0]
    assert a["username"] != b["username"]
    assert a["credential"] != b["credential"]
    other = load_settings({"INZOOMEN_TURN_URLS": TURN, "INZOOMEN_TURN_SECRET": SECRET + "x"})
    assert (
        client_config(other, "candidate-1", 5000)["iceServers"][0]["credential"]
        != (a["credential"])
    )


def test_known_vector() -> None:
    # Worked out with: printf 10:u | openssl dgst -sha1 -hmac secret -binary | base64
    assert turn_username("u", 10) == "10:u"
    assert turn_credential("secret", "10:u") == "KUTuRzs+bAIcRmjNp0YaPMqB13I="


def test_user_keys_with_a_colon_are_refused() -> None:
    with pytest.raises(ValueError, match="colon"):
        turn_username("a:b", 10)
    with pytest.raises(ValueError, match="colon"):
        turn_username("", 10)


def test_static_credentials_and_relay_only() -> None:
    settings = load_settings(
        {
            "INZOOMEN_TURN_URLS": TURNS,
            "INZOOMEN_TURN_USERNAME": "hall",
            "INZOOMEN_TURN_PASSWORD": "s3cret",
            "INZOOMEN_ICE_RELAY_ONLY": "true",
        }
    )
    assert client_config(settings, "candidate-4", 0) == {
        "iceServers": [{"urls": [TURNS], "username": "hall", "credential": "s3cret"}],
        "iceTransportPolicy": "relay",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INZOOMEN_STUN_URLS": "turn:x.example"}, "INZOOMEN_STUN_URLS .*stun: or stuns:"),
        ({"INZOOMEN_STUN_URLS": "https://x.example"}, "INZOOMEN_STUN_URLS"),
        ({"INZOOMEN_STUN_URLS": "stun:"}, "INZOOMEN_STUN_URLS"),
        (
            {"INZOOMEN_TURN_URLS": "turn:?transport=udp", "INZOOMEN_TURN_SECRET": SECRET},
            "INZOOMEN_TURN_URLS",
        ),
        ({"INZOOMEN_STUN_URLS": "stun:a.example, stun:b .example"}, "INZOOMEN_STUN_URLS"),
        (
            {"INZOOMEN_TURN_URLS": "stun:x.example", "INZOOMEN_TURN_SECRET": SECRET},
            "INZOOMEN_TURN_URLS .*turn: or turns:",
        ),
        ({"INZOOMEN_TURN_URLS": TURN}, "needs INZOOMEN_TURN_SECRET"),
        (
            {
                "INZOOMEN_TURN_URLS": TURN,
                "INZOOMEN_TURN_SECRET": SECRET,
                "INZOOMEN_TURN_USERNAME": "hall",
                "INZOOMEN_TURN_PASSWORD": "pw",
            },
            "exclude each other",
        ),
        ({"INZOOMEN_TURN_URLS": TURN, "INZOOMEN_TURN_USERNAME": "hall"}, "go together"),
        ({"INZOOMEN_TURN_SECRET": SECRET}, "INZOOMEN_TURN_URLS is empty"),
        (
            {
                "INZOOMEN_TURN_URLS": TURN,
                "INZOOMEN_TURN_SECRET": SECRET,
                "INZOOMEN_TURN_TTL_SECONDS": "59",
            },
            "INZOOMEN_TURN_TTL_SECONDS must be at least 60",
        ),
        ({"INZOOMEN_TURN_TTL_SECONDS": "soon"}, "INZOOMEN_TURN_TTL_SECONDS must be a whole"),
        ({"INZOOMEN_ICE_RELAY_ONLY": "true"}, "INZOOMEN_ICE_RELAY_ONLY needs INZOOMEN_TURN_URLS"),
        (
            {"INZOOMEN_STUN_URLS": "stun:x.example", "INZOOMEN_ICE_RELAY_ONLY": "1"},
            "INZOOMEN_ICE_RELAY_ONLY needs",
        ),
        ({"INZOOMEN_ICE_RELAY_ONLY": "maybe"}, "INZOOMEN_ICE_RELAY_ONLY must be true or false"),
    ],
)
def test_bad_ice_settings_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)
