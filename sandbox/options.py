"""Options of the fake-vendor sandbox (ports, test keys, credits, rate limit, instant mode)."""

from __future__ import annotations

import msgspec

WITHOUTBG_KEY = "sandbox-withoutbg-key"
WITHOUTBG_KEY_2 = "sandbox-withoutbg-key-2"
WITHOUTBG_EXPIRED_KEY = "sandbox-withoutbg-expired"
BACKGROUNDERASE_KEY = "sandbox-backgrounderase-key"
BACKGROUNDCUT_KEY = "sandbox-backgroundcut-key"
REMOVEBG_KEY = "sandbox-removebg-key"
PHOTOROOM_KEY = "sandbox-photoroom-key"
CLIPDROP_KEY = "sandbox-clipdrop-key"


class SandboxOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the seven fake vendors run; the defaults match `config/sandbox.toml`."""

    host: str = "127.0.0.1"
    withoutbg_port: int = 9101
    backgrounderase_port: int = 9102
    backgroundcut_port: int = 9103
    withoutbg_keys: tuple[str, ...] = (WITHOUTBG_KEY, WITHOUTBG_KEY_2)
    withoutbg_expired_keys: tuple[str, ...] = (WITHOUTBG_EXPIRED_KEY,)
    """Keys that authenticate but whose credits have expired (403 on every image call)."""
    withoutbg_credits: int = 1000
    """Credits each withoutBG key starts with (one is spent per processed image)."""
    withoutbg_rate_limit: str = "7/minute"
    """Per-key moving-window limit on the image endpoints, in `limits` notation."""
    withoutbg_expiration_date: str = "2099-12-31T23:59:59Z"
    backgrounderase_keys: tuple[str, ...] = (BACKGROUNDERASE_KEY,)
    backgroundcut_keys: tuple[str, ...] = (BACKGROUNDCUT_KEY,)
    backgroundcut_credits: int = 1000
    removebg_port: int = 9104
    photoroom_port: int = 9105
    clipdrop_port: int = 9106
    rembg_port: int = 9107
    removebg_keys: tuple[str, ...] = (REMOVEBG_KEY,)
    removebg_credits: float = 1000.0
    removebg_rate_limit: str = "500/minute"
    """Megapixel units per key: each call costs ceil(input megapixels) of them."""
    photoroom_keys: tuple[str, ...] = (PHOTOROOM_KEY,)
    photoroom_credits: float = 1000.0
    photoroom_rate_limit: str = "500/minute"
    clipdrop_keys: tuple[str, ...] = (CLIPDROP_KEY,)
    clipdrop_credits: int = 1000
    clipdrop_rate_limit: str = "60/minute"
    """Undocumented by Clipdrop; the fake's own choice."""
    instant: bool = False
    """Answer ready-made results of the right size without computing a matte (benchmarks)."""
    max_stored_objects: int = 256
    """BackgroundCut: objects kept per key space before the oldest are dropped."""
    log_level: str = "info"
