"""The client side of the admin HTTP port, for the commands that call it (``gateway console``,
``gateway drain``): the default base URL from the settings and one request with the token.

Every command that talks to ``/admin/*`` goes through :func:`admin_request`, so each sends
``Authorization: Bearer <ADMIN_TOKEN>`` when the setting is set.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway_core.config import Settings

__all__ = [
    "DEFAULT_PORT",
    "AdminError",
    "admin_json",
    "admin_request",
    "configure_drain",
    "default_admin_url",
    "drain",
]

#: Default of PACKET_METRICS_PORT.
DEFAULT_PORT = 9102


class AdminError(Exception):
    """The admin port could not be reached or refused the request (the message says why)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def default_admin_url(settings: Settings | None) -> str:
    """``http://<ADMIN_HOST>:<PACKET_METRICS_PORT>`` (127.0.0.1 for a wildcard host)."""
    host, port = "127.0.0.1", DEFAULT_PORT
    if settings is not None:
        host = str(settings.ADMIN_HOST)
        port = int(settings.PACKET_METRICS_PORT) or DEFAULT_PORT
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def admin_request(url: str, path: str, *, method: str = "GET", token: str | None = None,
                  timeout: float = 2.0) -> bytes:
    """The body of ``method path`` on the admin port at ``url``; :class:`AdminError` when
    the port is unreachable or answers with an error status."""
    request = urllib.request.Request(f"{url.rstrip('/')}{path}", method=method,
                                     data=b"" if method == "POST" else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        if exc.code == 401:
            hint = ("set ADMIN_TOKEN to the gateway's token" if not token
                    else "ADMIN_TOKEN does not match the gateway's")
            raise AdminError(f"{url}{path}: 401 unauthorized ({hint})", 401) from None
        raise AdminError(f"{url}{path}: HTTP {exc.code} {detail}", exc.code) from None
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AdminError(f"cannot reach {url}: {reason}") from None


def admin_json(url: str, path: str, *, method: str = "GET", token: str | None = None,
               timeout: float = 2.0) -> Any:
    """:func:`admin_request` parsed as JSON (:class:`AdminError` when it is not JSON)."""
    body = admin_request(url, path, method=method, token=token, timeout=timeout)
    try:
        return json.loads(body)
    except ValueError:
        raise AdminError(f"{url}{path} did not answer JSON") from None


def configure_drain(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gateway drain``."""
    parser.add_argument("--url", help="base URL of the gateway's admin port "
                                      "(default: http://$ADMIN_HOST:$PACKET_METRICS_PORT)")
    parser.add_argument("--notice", type=float, metavar="SECONDS",
                        help="seconds of notice for the players in the world "
                             "(default: the gateway's DRAIN_NOTICE_SECONDS)")
    parser.add_argument("--wait", action="store_true",
                        help="return once the gateway has stopped (its admin port is gone)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="longest --wait in seconds (default 120; exit 1 after it)")


def drain(args: argparse.Namespace, settings: Settings | None) -> int:
    """``gateway drain``: ``POST /admin/drain`` (and wait with ``--wait``); the exit code."""
    url = args.url or default_admin_url(settings)
    token = settings.ADMIN_TOKEN if settings is not None else None
    query = "" if args.notice is None else f"?notice={args.notice:g}"
    try:
        answer = admin_json(url, f"/admin/drain{query}", method="POST", token=token)
    except AdminError as exc:
        print(f"gateway: {exc}", flush=True)
        return 1
    print(f"draining {url}: {answer.get('in_world', 0)} players in the world, "
          f"{float(answer.get('notice_seconds', 0)):g}s notice, then up to "
          f"{float(answer.get('shutdown_deadline', 0)):g}s to close", flush=True)
    if not args.wait:
        return 0
    end = time.monotonic() + max(0.0, float(args.timeout))
    while time.monotonic() < end:
        try:
            admin_request(url, "/healthz", timeout=1.0)
        except AdminError as exc:
            if exc.status is None:  # nothing answers any more: the gateway is gone
                print("gateway stopped", flush=True)
                return 0
        time.sleep(0.2)
    print(f"gateway: still running after {args.timeout:g}s", flush=True)
    return 1
