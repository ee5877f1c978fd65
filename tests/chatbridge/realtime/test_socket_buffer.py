"""Seeing the frames a websocket has received and not yet read, on a real websockets
connection over 127.0.0.1: this fails when a websockets upgrade moves what it relies on."""

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from chatbridge.realtime import socket_buffer
from chatbridge.realtime.socket_buffer import has_buffered

FRAMES = 5


async def test_frames_received_together_are_seen_buffered_once_the_first_is_read():
    delivered = asyncio.Event()

    async def send_a_burst(peer: ServerConnection) -> None:
        await peer.recv()
        for n in range(FRAMES):
            await peer.send(f"frame {n}")
        # The pong answers a ping sent after the frames: the client holds every one of them.
        await (await peer.ping())
        delivered.set()
        await peer.wait_closed()

    async with serve(send_a_burst, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as socket:
            assert not has_buffered(socket)
            await socket.send("go")
            async with asyncio.timeout(10):
                await delivered.wait()
            received = [await socket.recv()]
            while has_buffered(socket):
                received.append(await socket.recv())
            assert received == [f"frame {n}" for n in range(FRAMES)]
            assert not has_buffered(socket)


@pytest.fixture
def fresh_warnings():
    socket_buffer._fell_back.cache_clear()
    yield
    socket_buffer._fell_back.cache_clear()


def test_a_socket_without_the_queue_has_nothing_buffered_and_says_so_once(fresh_warnings, caplog):
    with caplog.at_level(logging.WARNING, logger=socket_buffer.__name__):
        assert not has_buffered(object())
        assert not has_buffered(object())
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
