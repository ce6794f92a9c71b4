from __future__ import annotations

import pytest

from gateway_core.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError


def test_errors_split_by_blame_under_one_base() -> None:
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert issubclass(ProtocolError, Exception)


def test_error_carries_machine_kind_and_human_message() -> None:
    error = RemoteProtocolError("header announces 5 bytes", kind="bad_size")
    assert error.kind == "bad_size"
    assert str(error) == "header announces 5 bytes"
    assert repr(error) == "RemoteProtocolError('header announces 5 bytes', kind='bad_size')"


def test_error_kind_defaults_to_generic_label() -> None:
    assert LocalProtocolError("oops").kind == "protocol_error"


def test_errors_are_catchable_as_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        raise LocalProtocolError("too big", kind="too_large")
    assert info.value.kind == "too_large"
