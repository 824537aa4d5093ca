"""Cross-site websocket hijacking: a page from another origin cannot open /ws with the
victim's credentials, whatever the origin looks like."""

from __future__ import annotations

import orjson
import pytest

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from tests.security.sockets import Refused, next_frame, open_ws

FOREIGN = [
    "http://evil.example",
    "null",
    "http://127.0.0.1:1",
    "https://{host}",  # the right host over another scheme is another origin
    "http://{host}.evil.example",  # the allowed origin as a prefix
    "http://evil.example/http://{host}",
    "http://{host}@evil.example",
]


@pytest.mark.parametrize("origin", FOREIGN)
async def test_foreign_origin_is_refused_before_the_upgrade(
    gateway_service: ServiceProcess, make_user: MakeUser, origin: str
) -> None:
    """A handshake with a foreign Origin gets HTTP 403 forbidden_origin, even with a good token."""
    user = await make_user()
    host = f"127.0.0.1:{gateway_service.port}"
    with pytest.raises(Refused) as refused:
        await open_ws(gateway_service.url, user.access_token, origin=origin.format(host=host))
    assert refused.value.status == 403
    assert orjson.loads(refused.value.body)["error"]["code"] == "forbidden_origin"


async def test_own_origin_and_no_origin_are_allowed(
    gateway_service: ServiceProcess, make_user: MakeUser
) -> None:
    """The gateway's own origin (the web client) and a non-browser client without Origin connect."""
    user = await make_user()
    for origin in [gateway_service.url, None]:
        ws = await open_ws(gateway_service.url, user.access_token, origin=origin)
        assert (await next_frame(ws, lambda f: True))["type"] == "ready"
        await ws.close()
