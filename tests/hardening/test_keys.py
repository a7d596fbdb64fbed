"""Client key generation."""

from __future__ import annotations

import tomllib

import msgspec
import pytest

from gateway.auth import ClientAuth, MemoryQuotaCounter
from gateway.keys import KEY_PREFIX, hash_client_key, new_client_key
from gateway.settings import AuthSettings, ClientSettings
from gateway.state import MemoryState


def test_new_key_has_prefix_and_snippet_holds_only_its_hash() -> None:
    key, snippet = new_client_key("mobile-app")
    assert key.startswith(KEY_PREFIX)
    assert len(key) > len(KEY_PREFIX) + 40
    assert key not in snippet
    parsed = tomllib.loads(snippet)
    assert parsed == {"clients": {"mobile-app": {"key_sha256": hash_client_key(key)}}}


def test_keys_are_fresh_each_time() -> None:
    assert new_client_key("a")[0] != new_client_key("a")[0]


def test_snippet_decodes_into_client_settings_that_accept_the_key() -> None:
    key, snippet = new_client_key("svc")
    table = tomllib.loads(snippet)["clients"]
    clients = msgspec.convert(table, dict[str, ClientSettings])
    auth = ClientAuth(AuthSettings(required=True), clients, MemoryState(), MemoryQuotaCounter())
    client = auth.identify({"X-API-Key": key})
    assert client is not None and client.name == "svc"


@pytest.mark.parametrize("name", ["", "has space", 'quo"te', "a.b", "x]\n[y"])
def test_bad_client_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        new_client_key(name)
