"""Client key generation: the plain key is shown once, the config keeps only its SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "bgw_"
_CLIENT_NAME = re.compile(r"[A-Za-z0-9_-]+")


def hash_client_key(key: str) -> str:
    """Lowercase hex SHA-256 of a client key, as stored in `key_sha256`."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_client_key(name: str) -> tuple[str, str]:
    """A fresh key for client `name` and the `[clients.NAME]` TOML snippet holding its hash."""
    if not _CLIENT_NAME.fullmatch(name):
        raise ValueError("client names use only letters, digits, '_' and '-'")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    snippet = f'[clients.{name}]\nkey_sha256 = "{hash_client_key(key)}"\n'
    return key, snippet
