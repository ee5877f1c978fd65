"""The local services' helpers (chatbridge.dev.services)."""

import socket

from chatbridge.dev.services import ephemeral_ports, free_port


def test_a_free_port_is_outside_the_range_outgoing_connections_take_theirs_from():
    ports = {free_port() for _ in range(20)}

    assert not ports & set(ephemeral_ports())


def test_a_free_port_can_be_bound():
    port = free_port()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
