"""HTTP content codings decoded with a size cap: gzip, deflate, br, zstd (RFC 9110 §8.4, RFC 7932, RFC 8878).

Transport-neutral: the audit decodes archived bodies with it exactly as Scrapy's HttpCompressionMiddleware
decoded them during the crawl (codings applied last are removed first; decoding stops at the first coding it
does not support, which stays declared; a truncated gzip stream yields what it decoded), and `check` bounds
what it reads with it. (A Scrapy release without zstd support leaves zstd bodies encoded in the crawl; a server
sends zstd only when asked, and the archived request shows what the crawl accepted.) Every decoder stops with `DecodedTooLarge` past `max_size` bytes, so a compression
bomb costs at most `max_size` of memory.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable, Iterable

__all__ = ["SUPPORTED", "DecodedTooLarge", "decode", "split_codings"]

_CHUNK = 1 << 16


class DecodedTooLarge(ValueError):
    """The decoded body would exceed the cap."""

    def __init__(self, max_size: int) -> None:
        super().__init__(f"decoded body exceeds {max_size} bytes")
        self.max_size = max_size


class _Sink:
    def __init__(self, max_size: int) -> None:
        self.max_size, self.out = max_size, io.BytesIO()

    def write(self, chunk: bytes) -> None:
        if self.max_size and self.out.tell() + len(chunk) > self.max_size:
            raise DecodedTooLarge(self.max_size)
        self.out.write(chunk)


def _gunzip(data: bytes, sink: _Sink) -> None:
    if _one_member(data, sink):
        return
    stream = gzip.GzipFile(fileobj=io.BytesIO(data))
    chunk = b"."
    while chunk:
        try:
            chunk = stream.read1(_CHUNK)
        except (OSError, EOFError, struct.error):
            if sink.out.tell():  # a truncated or corrupt tail: keep what decoded
                return
            raise
        sink.write(chunk)


def _one_member(data: bytes, sink: _Sink) -> bool:
    """Decode `data` when it is exactly one whole gzip member (RFC 1952 §2.2: CRC-32 and ISIZE checked by zlib),
    the usual body, in one zlib call: what `GzipFile` yields for it, without its Python-level reader. False,
    with nothing written, for anything else (several members, bytes after the member, damage, more than the
    cap decoded): `GzipFile` reads those, so what is kept of a damaged stream does not change."""
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data, sink.max_size + 1 if sink.max_size else 0)
    except zlib.error:
        return False
    if not decompressor.eof or decompressor.unused_data:
        return False
    sink.write(out)
    return True


def _inflate(data: bytes, sink: _Sink) -> None:
    decompressor = zlib.decompressobj()
    try:
        chunk = decompressor.decompress(data, _CHUNK)
    except zlib.error:  # raw deflate, as some servers send it
        decompressor = zlib.decompressobj(wbits=-15)
        chunk = decompressor.decompress(data, _CHUNK)
    sink.write(chunk)
    while decompressor.unconsumed_tail and not decompressor.eof:
        sink.write(decompressor.decompress(decompressor.unconsumed_tail, _CHUNK))


def _unbrotli(data: bytes, sink: _Sink) -> None:
    import brotli

    decompressor = brotli.Decompressor()
    sink.write(decompressor.process(data, output_buffer_limit=_CHUNK))
    while not decompressor.is_finished():
        chunk = decompressor.process(b"", output_buffer_limit=_CHUNK)
        if not chunk:
            return
        sink.write(chunk)


def _unzstd(data: bytes, sink: _Sink) -> None:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
    stream = zstd.ZstdFile(io.BytesIO(data))
    chunk = b"."
    while chunk:
        try:
            chunk = stream.read(_CHUNK)
        except EOFError:  # truncated: keep what decoded
            return
        sink.write(chunk)


_DECODERS: dict[str, Callable[[bytes, _Sink], None]] = {
    "gzip": _gunzip, "x-gzip": _gunzip, "deflate": _inflate, "br": _unbrotli, "zstd": _unzstd,
}  # fmt: skip
#: The content codings this module decodes.
SUPPORTED = frozenset(_DECODERS)


def split_codings(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """(codings to remove, last applied first; codings that stay declared) from Content-Encoding values."""
    declared = [c.strip().lower() for value in values for c in value.split(",")]  # "" stops, as in Scrapy
    removable: list[str] = []
    while declared and declared[-1] in SUPPORTED:
        removable.append(declared.pop())
    return removable, declared


def decode(body: bytes, coding: str, max_size: int) -> bytes:
    """`body` with one content coding removed; `DecodedTooLarge` past `max_size` (0: no cap)."""
    sink = _Sink(max_size)
    _DECODERS[coding.lower()](body, sink)
    return sink.out.getvalue()
