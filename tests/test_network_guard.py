import socket

import pytest


def test_reaching_a_real_amazon_host_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="real host"):
        socket.getaddrinfo("advertising-api.amazon.com", 443)


def test_loopback_is_allowed() -> None:
    assert socket.getaddrinfo("127.0.0.1", 80)
