"""remove.bg's `shadow_type`: which look each type and field asks for, and that they differ."""

from __future__ import annotations

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

from gateway.api.removebg_fields import RemoveBgInvalid, shadow_choice
from tests.dropin.conftest import opened, photo

UPLOAD = {"image_file": ("file.jpg", photo(64, 96), "image/jpeg")}


@pytest.mark.parametrize(("fields", "kind", "expected"), [
    ({}, "auto", (None, 50)),
    ({"shadow_type": "none"}, "car", (None, 90)),
    ({"shadow_type": "drop"}, "auto", ("drop", 50)),
    ({"shadow_type": "3D"}, "product", ("3d", 50)),
    ({"shadow_type": "car", "shadow_opacity": "70"}, "car", ("car", 70)),
    ({"shadow_type": "auto"}, "car", ("car", 90)),
    ({"shadow_type": "auto"}, "person", ("3d", 50)),
    ({"shadow_type": "auto"}, "transportation", ("3d", 50)),
    ({"shadow_type": "auto"}, "animal", ("drop", 50)),
    ({"shadow_type": "auto"}, "auto", ("drop", 50)),
    ({"shadow_type": "drop", "shadow_type[person]": "3D"}, "person", ("3d", 50)),
    ({"shadow_type": "drop", "shadow_type[car]": "none"}, "car", (None, 90)),
    ({"add_shadow": "true"}, "auto", ("car", 50)),
    ({"add_shadow": "true", "shadow_type": "drop"}, "auto", ("drop", 50)),
    ({"shadow_type": "drop", "shadow_opacity[car]": "10", "shadow_opacity": "20"}, "car",
     ("drop", 10)),
])
def test_shadow_choice(fields: dict[str, object], kind: str,
                       expected: tuple[str | None, int]) -> None:
    """`auto` follows remove.bg's per-type defaults; per-type fields win; add_shadow is car."""
    assert shadow_choice(fields, kind) == expected


def test_unknown_shadow_type_is_invalid() -> None:
    with pytest.raises(RemoveBgInvalid) as raised:
        shadow_choice({"shadow_type[car]": "long"}, "car")
    assert raised.value.code == "invalid_shadow_type"


async def test_each_shadow_type_renders_its_own_look(client: AsyncTestClient) -> None:
    """drop, 3D and car answer different shadows; the ground ones stay off the subject's sides."""
    alphas = {}
    for shadow_type in ("drop", "3D", "car"):
        response = await client.post("/v1.0/removebg", files=UPLOAD,
                                     data={"shadow_type": shadow_type, "shadow_opacity": "90"})
        assert response.status_code == 200
        alphas[shadow_type] = np.asarray(opened(response.content).getchannel("A"), dtype=int)
    # The fake's subject is the centre box: x 16..48, y 24..72.
    beside = (slice(30, 60), slice(49, 52))
    assert alphas["drop"][beside].max() > 20
    assert alphas["3D"][beside].max() == alphas["car"][beside].max() == 0
    for one, other in (("drop", "3D"), ("drop", "car"), ("3D", "car")):
        assert np.abs(alphas[one] - alphas[other]).mean() > 0.5, (one, other)
