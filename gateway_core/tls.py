"""TLS between gateways and backend services: credentials made from the GRPC_TLS_* settings.

Strategy: the client side (``gateway serve`` and every command that reaches a service at a
``<SERVICE>_SERVICE_ADDR``) and the server side (``gateway service <name>``) each read their own
settings, so one settings file can configure both ends. The client side is on when
``GRPC_TLS_CA_FILE`` is set: every channel to a configured address is then TLS, verified with that
CA bundle, and presents ``GRPC_TLS_CLIENT_CERT_FILE``/``GRPC_TLS_CLIENT_KEY_FILE`` when set
(mutual TLS). The server side is on when ``GRPC_TLS_CERT_FILE``/``GRPC_TLS_KEY_FILE`` are set: the
port then speaks TLS only (plaintext clients fail their handshake), and with
``GRPC_TLS_CLIENT_CA_FILE`` it requires a client certificate signed by that CA. The embedded
services of ``gateway serve`` listen on loopback only and stay plaintext. A half-configured pair
(a certificate without its key) or an unreadable file is a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from gateway_core.config import ConfigError, Settings

__all__ = ["ClientTls", "client_tls", "server_credentials", "server_tls_summary"]


@dataclass(frozen=True, slots=True)
class ClientTls:
    """What a TLS channel needs: its credentials and, optionally, the name the services'
    certificates carry when it differs from the host of the address (GRPC_TLS_SERVER_NAME)."""

    credentials: grpc.ChannelCredentials
    server_name: str | None = None


def _read(settings: Settings, name: str) -> bytes | None:
    path = settings.get(name)
    if path is None:
        return None
    try:
        return Path(str(path)).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(name, path, f"cannot be read: {exc.strerror or exc}") from None


def _pair(settings: Settings, cert: str, key: str) -> tuple[bytes, bytes] | None:
    """Both files of a certificate/key pair, or None when neither is set."""
    cert_set, key_set = settings.get(cert) is not None, settings.get(key) is not None
    if cert_set != key_set:
        missing, given = (key, cert) if cert_set else (cert, key)
        raise ConfigError(missing, None, f"must be set together with {given}")
    if not cert_set:
        return None
    cert_pem, key_pem = _read(settings, cert), _read(settings, key)
    assert cert_pem is not None and key_pem is not None
    return cert_pem, key_pem


def client_tls(settings: Settings) -> ClientTls | None:
    """TLS for the channels to services at a configured address, or None (plaintext)."""
    pair = _pair(settings, "GRPC_TLS_CLIENT_CERT_FILE", "GRPC_TLS_CLIENT_KEY_FILE")
    roots = _read(settings, "GRPC_TLS_CA_FILE")
    if roots is None:
        if pair is not None:
            raise ConfigError("GRPC_TLS_CA_FILE", None,
                              "must be set to use a client certificate (GRPC_TLS_CLIENT_CERT_FILE)")
        if settings.get("GRPC_TLS_SERVER_NAME") is not None:
            raise ConfigError("GRPC_TLS_CA_FILE", None,
                              "must be set to use GRPC_TLS_SERVER_NAME")
        return None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=pair[1] if pair else None,
        certificate_chain=pair[0] if pair else None,
    )
    return ClientTls(credentials, settings.get("GRPC_TLS_SERVER_NAME"))


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials for the port of ``gateway service``, or None (plaintext)."""
    pair = _pair(settings, "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE")
    client_ca = _read(settings, "GRPC_TLS_CLIENT_CA_FILE")
    if pair is None:
        if client_ca is not None:
            raise ConfigError("GRPC_TLS_CERT_FILE", None,
                              "must be set (with GRPC_TLS_KEY_FILE) to require client "
                              "certificates (GRPC_TLS_CLIENT_CA_FILE)")
        return None
    return grpc.ssl_server_credentials(
        [(pair[1], pair[0])],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def server_tls_summary(settings: Settings) -> str:
    """``plaintext``, ``TLS`` or ``mutual TLS``: how ``gateway service`` serves."""
    if settings.get("GRPC_TLS_CERT_FILE") is None:
        return "plaintext"
    return "mutual TLS" if settings.get("GRPC_TLS_CLIENT_CA_FILE") is not None else "TLS"
