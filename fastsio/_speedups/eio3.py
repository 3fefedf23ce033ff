"""Selector for the Engine.IO v3 codec twins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import NO_EXTENSIONS, load

if TYPE_CHECKING or NO_EXTENSIONS:
    from .eio3_py import (  # noqa: F401
        TEXT_PLAIN,
        TEXT_UNKNOWN,
        TEXT_UTF8,
        Eio3Codec,
        decode_jsonp_body,
        decode_packet,
        decode_payload_binary,
        decode_payload_text,
        encode_jsonp,
        encode_packet,
        encode_payload_binary,
        encode_payload_text,
        json_ascii,
        jsonp_index,
        utf16_len,
        utf8_decoded,
    )

if not TYPE_CHECKING:
    _impl = load("eio3")
    TEXT_PLAIN = _impl.TEXT_PLAIN
    TEXT_UNKNOWN = _impl.TEXT_UNKNOWN
    TEXT_UTF8 = _impl.TEXT_UTF8
    Eio3Codec = _impl.Eio3Codec
    decode_jsonp_body = _impl.decode_jsonp_body
    decode_packet = _impl.decode_packet
    decode_payload_binary = _impl.decode_payload_binary
    decode_payload_text = _impl.decode_payload_text
    encode_jsonp = _impl.encode_jsonp
    encode_packet = _impl.encode_packet
    encode_payload_binary = _impl.encode_payload_binary
    encode_payload_text = _impl.encode_payload_text
    json_ascii = _impl.json_ascii
    jsonp_index = _impl.jsonp_index
    utf16_len = _impl.utf16_len
    utf8_decoded = _impl.utf8_decoded
