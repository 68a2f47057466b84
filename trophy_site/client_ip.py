"""The client's address for the admin login's lockouts (django-axes).

Behind a reverse proxy every request comes from the proxy's address, so counting failed
logins per (username, address) would lock a username out for everyone. With
`CLIENT_IP_HEADER` set (say `X-Real-IP`), the address is read from that header, which the
proxy must set itself, overwriting any value the client sent (nginx: `proxy_set_header
X-Real-IP $remote_addr;`), and gunicorn must be reachable only through that proxy (else a
client could send a new address with every guess). Of a list (`X-Forwarded-For`), the last
address is taken: the one the nearest proxy added. A value that is not an address is
ignored. Unset: the connection's address (REMOTE_ADDR), right when nothing stands between
the clients and gunicorn.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    header: str = settings.CLIENT_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        last = value.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    address: str | None = request.META.get("REMOTE_ADDR")
    return address
