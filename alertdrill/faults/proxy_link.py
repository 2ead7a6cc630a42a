"""One direction of a proxied connection: the toxics acting on it, its queue, its worker.

The proxy engine (``proxy_engine``) owns listeners and connections; each connection has two
``Direction`` objects, ``upstream`` (client -> server) and ``downstream`` (server -> client).
``receive()`` is the hot path: with no toxic and nothing queued it is one check and a
``transport.write``. Anything else queues the chunk with its arrival time and sampled delay, and
a worker task (alive only while something is queued) writes it out when due, in order, in
bandwidth-sized slices. Toxics act in a fixed order on a stream (Toxiproxy chains them in the
order added): a ``reset_peer`` or ``timeout`` takes the data first, then ``latency``, then
``bandwidth``.

Back-pressure: the direction stops reading from its source while more than 1 MiB waits in its
queue or while the destination's write buffer is full.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Mapping
from typing import Protocol

from alertdrill.faults.toxics import Bandwidth, Latency, ResetPeer, Stream, Timeout, Toxic

__all__ = ["Connection", "Direction", "ToxicSource"]

_PAUSE_QUEUED = 1 << 20
_RESUME_QUEUED = 1 << 18
# Bandwidth-limited data goes out in slices of at most this many seconds' worth (Toxiproxy's
# 100 ms), so a slow link trickles instead of stalling and then bursting.
_SLICE_SECONDS = 0.1


class Connection(Protocol):
    """What a direction needs of its connection."""

    @property
    def closing(self) -> bool: ...

    def close(self) -> None:
        """Close both sockets (FIN)."""

    def reset(self) -> None:
        """Reset both sockets (RST)."""

    def direction_ended(self) -> None:
        """A direction forwarded its EOF; the connection closes once both have."""


class ToxicSource(Protocol):
    """What a direction needs of its proxy: the toxics per stream, and randomness."""

    @property
    def stream_toxics(self) -> Mapping[Stream, tuple[Toxic, ...]]: ...

    @property
    def rng(self) -> random.Random: ...

    def has_toxic(self, name: str) -> bool: ...


class _Chunk:
    __slots__ = ("arrival", "data", "delay")

    def __init__(self, arrival: float, data: bytes, delay: float) -> None:
        self.arrival = arrival
        self.data = data
        self.delay = delay


class Direction:
    """One direction of a connection: its active toxics, its queue and (when needed) a worker."""

    def __init__(
        self,
        connection: Connection,
        toxics: ToxicSource,
        stream: Stream,
        *,
        source: asyncio.Transport | None,
        destination: asyncio.Transport | None,
    ) -> None:
        self.connection = connection
        self.toxics = toxics
        self.stream = stream
        self.source = source
        self.destination = destination
        self.loop = asyncio.get_running_loop()
        # True when data can go straight through: no toxic, nothing queued, nothing pending.
        self.plain = False
        self.active: tuple[Toxic, ...] = ()
        self.queue: deque[_Chunk] = deque()
        self.queued = 0
        self.eof = False
        self.eof_sent = False
        self._rolls: dict[str, tuple[float, bool]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._deadline: tuple[int, float] | None = None  # (bytes, when) of the next write
        self._link_free_at = 0.0  # bandwidth: when the previous slice finished "transmitting"
        self._close_timer: asyncio.TimerHandle | None = None
        self._reset_timer: asyncio.TimerHandle | None = None
        self._reset_pending = False
        self._full_queue = False
        self._full_destination = False
        self._reading_paused = False

    # -- the hot path ----------------------------------------------------------

    def receive(self, data: bytes) -> None:
        destination = self.destination
        if self.plain and destination is not None:
            destination.write(data)
            return
        self._receive_with_toxics(data)

    def _receive_with_toxics(self, data: bytes) -> None:
        if self._reset_pending:
            return  # the connection is about to be reset; Toxiproxy drops this data too
        for toxic in self.active:
            attributes = toxic.attributes
            if isinstance(attributes, ResetPeer):
                self._reset_pending = True
                if attributes.timeout == 0:
                    self.connection.reset()
                else:
                    self._reset_timer = self.loop.call_later(
                        attributes.timeout / 1000, self.connection.reset
                    )
                return
            if isinstance(attributes, Timeout):
                self._arm_close(attributes.timeout)  # every chunk restarts Toxiproxy's timer
                return  # dropped: the connection hangs
        self.queue.append(_Chunk(self.loop.time(), data, self._sample_delay()))
        self.queued += len(data)
        if self.queued > _PAUSE_QUEUED:
            self._full_queue = True
            self._update_reading()
        self._kick()

    def receive_eof(self) -> None:
        if self._dropping():
            return  # a FIN into a blackhole is lost like the data before it
        self.eof = True
        self._kick()

    # -- toxics ----------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the proxy's toxics for this stream (one was added, changed or removed)."""
        before = self.active
        self.active = tuple(t for t in self.toxics.stream_toxics[self.stream] if self._applies(t))
        if any(
            isinstance(t.attributes, Timeout) and not self.toxics.has_toxic(t.name) for t in before
        ):
            # Toxiproxy's timeout cleanup: the connections it held are closed, not resumed
            # (data was dropped, so their byte streams have holes in them).
            self.connection.close()
            return
        timeout = next(
            (t.attributes for t in self.active if isinstance(t.attributes, Timeout)), None
        )
        if timeout is None:
            self._cancel_close()
        else:
            self._arm_close(timeout.timeout)
        if self.queue:
            for chunk in self.queue:  # latency changed: what is queued gets the new delay
                chunk.delay = self._sample_delay()
            self._deadline = None
        self._kick()

    def _applies(self, toxic: Toxic) -> bool:
        """Toxicity: whether ``toxic`` acts on this direction, decided once per value."""
        if toxic.toxicity >= 1.0:
            return True
        roll = self._rolls.get(toxic.name)
        if roll is None or roll[0] != toxic.toxicity:
            roll = (toxic.toxicity, self.toxics.rng.random() < toxic.toxicity)
            self._rolls[toxic.name] = roll
        return roll[1]

    def _dropping(self) -> bool:
        return self._reset_pending or any(
            isinstance(t.attributes, Timeout | ResetPeer) for t in self.active
        )

    def _sample_delay(self) -> float:
        delay = 0.0
        rng = self.toxics.rng
        for toxic in self.active:
            attributes = toxic.attributes
            if isinstance(attributes, Latency):
                spread = (
                    rng.uniform(-attributes.jitter, attributes.jitter) if attributes.jitter else 0
                )
                delay += max(0.0, attributes.latency + spread) / 1000
        return delay

    def _rate(self) -> float | None:
        """Bytes per second of the tightest bandwidth toxic, None when unlimited."""
        rates = [
            t.attributes.rate * 1000
            for t in self.active
            if isinstance(t.attributes, Bandwidth) and t.attributes.rate > 0
        ]
        return float(min(rates)) if rates else None

    def _arm_close(self, timeout_ms: int) -> None:
        self._cancel_close()
        if timeout_ms > 0:
            self._close_timer = self.loop.call_later(timeout_ms / 1000, self.connection.close)

    def _cancel_close(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    # -- the queue ---------------------------------------------------------------

    def _kick(self) -> None:
        """Make progress: straight through when possible, else make sure a worker runs."""
        if self.connection.closing:
            return
        if self._worker is not None:
            self._wake()
        elif (self.queue or (self.eof and not self.eof_sent)) and not self._dropping():
            self._worker = self.loop.create_task(self._drain())
        self.plain = (
            not self.active
            and not self.queue
            and self._worker is None
            and not self.eof
            and self.destination is not None
        )

    async def _drain(self) -> None:
        try:
            while not self.connection.closing:
                if self._dropping():
                    self._drop_queue()
                    return
                destination = self.destination
                if destination is None:
                    await self._sleep(None)  # woken when the upstream connection is made
                    continue
                if not self.queue:
                    if self.eof:
                        self._send_eof(destination)
                    return
                chunk = self.queue[0]
                if self._deadline is None:
                    self._deadline = self._schedule(chunk)
                size, when = self._deadline
                wait = when - self.loop.time()
                if wait > 0:
                    await self._sleep(wait)  # early when toxics change (deadline reset)
                    continue
                self._deadline = None
                self._link_free_at = when
                if size >= len(chunk.data):
                    self.queue.popleft()
                    data = chunk.data
                else:
                    data, chunk.data = chunk.data[:size], chunk.data[size:]
                self.queued -= len(data)
                destination.write(data)
                if self._full_queue and self.queued < _RESUME_QUEUED:
                    self._full_queue = False
                    self._update_reading()
        finally:
            self._worker = None
            self._kick()

    def _schedule(self, chunk: _Chunk) -> tuple[int, float]:
        due = chunk.arrival + chunk.delay
        rate = self._rate()
        if rate is None:
            return len(chunk.data), due
        size = min(len(chunk.data), max(1, int(rate * _SLICE_SECONDS)))
        start = max(due, self._link_free_at, self.loop.time())
        return size, start + size / rate

    async def _sleep(self, seconds: float | None) -> None:
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._waiter = waiter
        timer = None if seconds is None else self.loop.call_later(seconds, _settle, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None:
            _settle(self._waiter)

    def _drop_queue(self) -> None:
        self.queue.clear()
        self.queued = 0
        self._deadline = None
        if self._full_queue:
            self._full_queue = False
            self._update_reading()

    def _send_eof(self, destination: asyncio.Transport) -> None:
        if self.eof_sent:
            return
        self.eof_sent = True
        if destination.can_write_eof():
            destination.write_eof()
        self.connection.direction_ended()

    # -- back-pressure -------------------------------------------------------------

    def set_destination(self, destination: asyncio.Transport) -> None:
        self.destination = destination
        self._kick()

    def set_source(self, source: asyncio.Transport) -> None:
        self.source = source
        self._reading_paused = False
        self._update_reading()
        self._kick()

    def destination_full(self, full: bool) -> None:
        self._full_destination = full
        self._update_reading()

    def _update_reading(self) -> None:
        pause = self._full_queue or self._full_destination
        source = self.source
        if source is None or pause == self._reading_paused or self.connection.closing:
            return
        self._reading_paused = pause
        if pause:
            source.pause_reading()
        else:
            source.resume_reading()

    def stop(self) -> None:
        """The connection is closing: cancel the worker and every timer."""
        self.plain = False
        self._cancel_close()
        if self._reset_timer is not None:
            self._reset_timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
        self.queue.clear()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
