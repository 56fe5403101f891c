"""Claiming a port: one digitrec server per address, and nothing else listening there."""

import os
import socket

import pytest

from digitrec.serving.listen import PortTakenError, claim_port
from digitrec.serving.workers import balanced_workers_supported
from tests.processes import free_port


@pytest.mark.skipif(not balanced_workers_supported(), reason="a SO_REUSEPORT group needs Linux")
def test_a_claimed_address_cannot_be_claimed_again_and_is_free_once_closed():
    port = free_port()
    claim = claim_port("127.0.0.1", port, 2)
    try:
        assert len(claim.sockets) == 2
        with pytest.raises(PortTakenError, match=f"already served by digitrec \\(pid {os.getpid()}"):
            claim_port("127.0.0.1", port, 2)
    finally:
        claim.close()
    claim_port("127.0.0.1", port, 2).close()


def test_an_address_another_program_listens_on_is_refused():
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for listeners in (1, 2):
            with pytest.raises(PortTakenError, match=f"cannot listen on 127.0.0.1:{port}"):
                claim_port("127.0.0.1", port, listeners)
    claim_port("127.0.0.1", port, 1).close()  # the lock of a failed claim is given back
