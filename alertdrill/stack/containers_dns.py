"""A DNS server that knows no name: every query gets NXDOMAIN at once.

Why the container backend needs one: Docker's embedded DNS (127.0.0.11 in every container on
a user-defined network) answers for the network's aliases and forwards every other name to
the container's configured DNS servers. Nothing may leave this machine, so those servers
cannot be real ones; but pointed at an address where nothing answers (127.0.0.1), the
forwarded query is simply never answered, and a lookup of a stopped container's alias
(``postgres`` while the database drill has it stopped) hangs for the resolver's full timeout
(20 s with glibc's defaults). postgres_exporter then fails its scrape instead of reporting
``pg_up 0``, and DatabaseDown never fires.

So the stack runs this on its network's gateway address (port 53, the host's side of the
run's bridge: reachable from the run's containers only) and gives the containers that as
their DNS server: unknown names fail in microseconds, as they would against a real resolver,
and no query goes anywhere else.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

__all__ = ["NxdomainServer", "nxdomain_reply"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_RA = 0x0080
_NXDOMAIN = 3
_FORMERR = 1


def _question_end(packet: bytes) -> int | None:
    """Offset just past the first question (name, type, class), or None if malformed."""
    offset = _HEADER.size
    while offset < len(packet):
        length = packet[offset]
        if length == 0:
            end = offset + 1 + 4
            return end if end <= len(packet) else None
        if length & 0xC0:  # compression pointers do not appear in a query's first name
            return None
        offset += 1 + length
    return None


def nxdomain_reply(query: bytes) -> bytes | None:
    """The reply to ``query``: NXDOMAIN echoing its question (FORMERR when it has none);
    None for what is not a query at all (too short, or already a response)."""
    if len(query) < _HEADER.size:
        return None
    ident, flags, qdcount, _, _, _ = _HEADER.unpack_from(query)
    if flags & _QR:
        return None
    end = _question_end(query) if qdcount >= 1 else None
    rcode = _NXDOMAIN if end is not None else _FORMERR
    reply_flags = _QR | (flags & (_OPCODE_MASK | _RD)) | _RA | rcode
    question = query[_HEADER.size : end] if end is not None else b""
    return _HEADER.pack(ident, reply_flags, 1 if question else 0, 0, 0, 0) + question


class NxdomainServer:
    """UDP DNS on ``host:port`` answering NXDOMAIN to everything, in a daemon thread."""

    def __init__(self, host: str, port: int = 53) -> None:
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        # Wakes the loop regularly so stop() is noticed without a packet.
        sock.settimeout(0.2)
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="alertdrill-nxdomain", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._stopping.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            reply = nxdomain_reply(query)
            if reply is not None:
                try:
                    sock.sendto(reply, peer)
                except OSError as error:  # the asker is gone; nothing to do
                    log.debug("nxdomain reply to %s failed: %s", peer, error)

    def stop(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
