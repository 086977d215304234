"""The wire protocol's reference encoder and decoder (the gateware bridge is tested against it)."""

import random

import pytest

from systolic.rtl.protocol import (SYNC, VERSION, Kind, Frame, FrameDecoder, Info, ProtocolError,
                                   crc16, decode_info, encode_frame, encode_info,
                                   info_reply_problem, words_to_bytes, bytes_to_words)


def test_crc_check_value():
    # The catalogue check value of CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740).
    assert crc16(b"123456789") == 0x29B1


def test_frame_layout():
    frame = encode_frame(Kind.READ, 7, b"\x10\x00")
    assert frame[:5] == bytes([SYNC, 0x04, 7, 2, 0])
    assert frame[5:7] == b"\x10\x00"
    assert int.from_bytes(frame[7:], "little") == crc16(frame[1:7])


def test_decoder_round_trip_split_anywhere():
    rng = random.Random(3)
    frames = [(rng.choice(list(Kind)), rng.randrange(256), rng.randbytes(rng.randrange(40)))
              for _ in range(30)]
    stream = b"".join(encode_frame(*f) for f in frames)
    decoder = FrameDecoder()
    seen = []
    position = 0
    while position < len(stream):
        step = rng.randrange(1, 9)
        seen += decoder.feed(stream[position:position + step])
        position += step
    assert seen == [Frame(k, s, p) for k, s, p in frames]
    assert decoder.pending() == 0


def test_decoder_flags_corruption_and_resyncs():
    good = encode_frame(Kind.WRITE, 1, b"abcd")
    bad = bytearray(encode_frame(Kind.WRITE, 2, b"efgh"))
    bad[6] ^= 0x40
    frames = FrameDecoder().feed(b"\x00\x13" + bytes(bad) + good)
    assert [(f.seq, f.crc_ok) for f in frames] == [(2, False), (1, True)]


def test_decoder_skips_oversized_headers():
    frames = FrameDecoder(max_payload=8).feed(bytes([SYNC, 3, 0, 0xFF, 0xFF]) + encode_frame(Kind.PING, 9))
    assert frames == [Frame(Kind.PING, 9, b"")]


def test_words_and_info_round_trip():
    words = [0, 1, 0xDEADBEEF, 0xFFFFFFFF]
    assert bytes_to_words(words_to_bytes(words, 4), 4) == words
    with pytest.raises(ProtocolError):
        bytes_to_words(b"\x00" * 5, 4)
    info = Info(VERSION, True, False, 4, 4, 8, 8, 28, 4, 64, 256, 64, 1024, 30000, 1)
    assert decode_info(encode_info(info)) == info
    assert info_reply_problem(encode_info(info)) is None
    with pytest.raises(ProtocolError, match="expected"):
        decode_info(encode_info(info)[:-1])
    assert "bytes, not" in info_reply_problem(encode_info(info)[:-1])


def test_info_of_another_version_is_refused_by_name():
    # A board built before INFO carried the pipeline: version 1, one byte shorter. Not damage,
    # so no retry (info_reply_problem passes it), and the refusal names both versions.
    old = bytes([1]) + encode_info(Info(VERSION, True, False, 4, 4, 8, 8, 28, 4, 64, 256, 64,
                                        1024, 30000))[1:-1]
    assert info_reply_problem(old) is None
    with pytest.raises(ProtocolError, match=f"protocol version 1 and this host version {VERSION}"):
        decode_info(old)
