"""The fault proxy's data path: one TCP listener per upstream, bytes forwarded with toxics applied.

Every connection accepted on a proxy's listener gets its own connection to the upstream and two
directions (``proxy_link.Direction``): ``upstream`` (client → server) and ``downstream``
(server → client). Toxics are those of ``alertdrill.faults.toxics``, with Toxiproxy's
semantics.

The proxy sits in every request's path, so it uses asyncio protocols (callbacks, no stream
objects, no copies): with no toxic, a chunk of data costs one check and a ``transport.write``.

TCP behaviour is passed through: a FIN becomes a half-close on the other side (``write_eof``),
and the connection closes when both directions have ended; a reset on one side is a reset
(RST) on the other. Everything runs on one event loop thread; nothing here locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from typing import cast

from alertdrill.faults.proxy_link import Direction
from alertdrill.faults.toxics import Stream, Toxic, ToxicError

__all__ = ["CONNECT_TIMEOUT", "Proxy"]

log = logging.getLogger(__name__)

#: Bound on dialling the upstream for a new client; the client is closed if it fails, as
#: Toxiproxy does (a refused upstream reads as "accepted, then closed" to the client).
CONNECT_TIMEOUT = 10.0
_LINGER_ZERO = struct.pack("ii", 1, 0)
_STREAMS: tuple[Stream, ...] = ("upstream", "downstream")


class Proxy:
    """One listener (``listen``) forwarding to one upstream, with its toxics and connections."""

    def __init__(
        self,
        name: str,
        *,
        listen: tuple[str, int],
        upstream: tuple[str, int],
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.listen_host, self.listen_port = listen
        self.upstream_host, self.upstream_port = upstream
        self.rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self._toxics: dict[str, Toxic] = {}
        self.stream_toxics: dict[Stream, tuple[Toxic, ...]] = dict.fromkeys(_STREAMS, ())
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    @property
    def enabled(self) -> bool:
        return self._server is not None

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"

    def toxics(self) -> tuple[Toxic, ...]:
        return tuple(self._toxics.values())

    def toxic(self, name: str) -> Toxic | None:
        return self._toxics.get(name)

    # -- listener --------------------------------------------------------------

    async def enable(self) -> None:
        """Listen (again); port 0 becomes a real port, kept for later re-enables."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Side(self, None),
            self.listen_host,
            self.listen_port,
            reuse_address=True,  # re-enable on the same port while old sockets are in TIME_WAIT
            backlog=256,
        )
        self.listen_port = int(server.sockets[0].getsockname()[1])
        self._server = server

    def disable(self) -> None:
        """Toxiproxy's ``enabled: false``: stop listening (clients are refused) and close every
        open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()  # the listening socket only; accepted connections are ours to close
        for connection in list(self.connections):
            connection.close()

    # -- toxics ----------------------------------------------------------------

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self._toxics:
            raise ToxicError("toxic already exists", 409)
        self._toxics[toxic.name] = toxic
        self._changed()

    def update_toxic(self, toxic: Toxic) -> None:
        if toxic.name not in self._toxics:
            raise ToxicError("toxic not found", 404)
        self._toxics[toxic.name] = toxic
        self._changed()

    def remove_toxic(self, name: str) -> Toxic:
        toxic = self._toxics.pop(name, None)
        if toxic is None:
            raise ToxicError("toxic not found", 404)
        self._changed()
        return toxic

    def remove_all_toxics(self) -> None:
        if self._toxics:
            self._toxics.clear()
            self._changed()

    def has_toxic(self, name: str) -> bool:
        return name in self._toxics

    def _changed(self) -> None:
        toxics = tuple(self._toxics.values())
        self.stream_toxics = {s: tuple(t for t in toxics if t.stream == s) for s in _STREAMS}
        for connection in list(self.connections):
            connection.refresh()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection: the accepted client (``connection`` None until
    made) or the dialled upstream."""

    def __init__(self, proxy: Proxy, connection: _Connection | None) -> None:
        self.proxy = proxy
        self.connection = connection
        self.reading: Direction | None = None  # the direction this socket feeds
        self.writing: Direction | None = None  # the direction that writes to it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp = cast(asyncio.Transport, transport)
        if self.connection is None:
            self.connection = _Connection(self.proxy, tcp, self)
        else:
            self.connection.attach_upstream(tcp, self)

    def data_received(self, data: bytes) -> None:
        direction = self.reading
        if direction is not None:
            direction.receive(data)

    def eof_received(self) -> bool:
        if self.reading is not None:
            self.reading.receive_eof()
        return True  # keep the socket open for the other direction (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.connection.lost(exc)

    def pause_writing(self) -> None:
        if self.writing is not None:
            self.writing.destination_full(True)

    def resume_writing(self) -> None:
        if self.writing is not None:
            self.writing.destination_full(False)


class _Connection:
    def __init__(self, proxy: Proxy, client: asyncio.Transport, side: _Side) -> None:
        self.proxy = proxy
        self.client = client
        self.server: asyncio.Transport | None = None
        self.closing = False
        self.up = Direction(self, proxy, "upstream", source=client, destination=None)
        self.down = Direction(self, proxy, "downstream", source=None, destination=client)
        side.reading, side.writing = self.up, self.down
        proxy.connections.add(self)
        self._dial = asyncio.get_running_loop().create_task(self._dial_upstream())
        self.refresh()

    async def _dial_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.proxy.upstream_host, self.proxy.upstream_port
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _Side(self.proxy, self), host, port),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as error:
            log.info("%s: upstream %s:%s unreachable (%s)", self.proxy.name, host, port, error)
            self.close()

    def attach_upstream(self, server: asyncio.Transport, side: _Side) -> None:
        if self.closing:
            server.close()
            return
        self.server = server
        side.reading, side.writing = self.down, self.up
        self.up.set_destination(server)
        self.down.set_source(server)

    def refresh(self) -> None:
        if not self.closing:
            self.up.refresh()
        if not self.closing:
            self.down.refresh()

    def direction_ended(self) -> None:
        if self.up.eof_sent and self.down.eof_sent:
            self.close()

    def lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        if exc is None:
            self.close()
        else:
            # A reset (or any error) on one side is a reset on the other, as on a real path.
            self.reset()

    def close(self) -> None:
        """Close both sockets (FIN, after what is already written)."""
        if self._finish():
            return
        for transport in (self.client, self.server):
            if transport is not None:
                transport.close()

    def reset(self) -> None:
        """Reset both sockets: SO_LINGER 0, then close, so the kernel sends RST."""
        if self._finish():
            return
        for transport in (self.client, self.server):
            if transport is None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            transport.abort()

    def _finish(self) -> bool:
        """Mark closing and stop everything; True when it was already closing."""
        if self.closing:
            return True
        self.closing = True
        self.proxy.connections.discard(self)
        if self._dial is not asyncio.current_task():
            self._dial.cancel()
        self.up.stop()
        self.down.stop()
        return False
