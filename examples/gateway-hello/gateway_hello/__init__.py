"""gateway_hello: an example third-party plugin for rose-gateway.

It answers every chat room message (``PAKCS_CHATROOM_MESSAGE``, a packet type no built-in plugin
handles) with a greeting to the sender (``PAKCC_CHATROOM_MESSAGE``), whatever the session's
state, and declares the setting ``HELLO_GREETING``. Like every plugin it imports the core
through ``gateway_core.api`` alone.
"""

from __future__ import annotations

from gateway_core.api import (
    TEXT_ENCODING,
    CliChatroomMessage,
    PacketContext,
    PacketRegistrar,
    SessionState,
    SettingsRegistrar,
    SrvChatroomMessage,
    hookimpl,
)

__all__ = ["greeting", "on_chatroom_message"]

#: Longest greeting, in bytes: the reply carries the greeting, the sender's name and the message.
MAX_GREETING = 64


def _check_greeting(value: str) -> str | None:
    if not value or len(value.encode(TEXT_ENCODING, "replace")) > MAX_GREETING:
        return f"must be 1 to {MAX_GREETING} bytes"
    return None


def greeting(word: str, username: str | None, message: bytes) -> bytes:
    """The reply text: ``Hello, alice! You said: hi``."""
    said = message.decode(TEXT_ENCODING, "replace")
    text = f"{word}, {username or 'stranger'}! You said: {said}"
    return text.encode(TEXT_ENCODING, "replace")[:255]


def on_chatroom_message(ctx: PacketContext[None], packet: CliChatroomMessage) -> None:
    """Answer the sender alone; nothing else happens."""
    text = greeting(ctx.settings.HELLO_GREETING, ctx.session.username, packet.message)
    ctx.reply(SrvChatroomMessage(target=0, message=text))


@hookimpl
def gateway_register_settings(register: SettingsRegistrar) -> None:
    register("HELLO_GREETING", "Hello", validate=_check_greeting,
             doc="The word the hello plugin greets chat room messages with.")


@hookimpl
def gateway_register_packets(register: PacketRegistrar) -> None:
    register(CliChatroomMessage.NAME, on_chatroom_message,
             states={SessionState.CONNECTED, SessionState.LOGGED_IN,
                     SessionState.CHARACTER_SELECT, SessionState.IN_WORLD})
