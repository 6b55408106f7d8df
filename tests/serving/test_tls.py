"""TLS (wss://) with a self-signed certificate: token + TLS work, plain ws:// is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import numpy as np
import pytest
from fake_policy import TOKEN, FakePolicy, make_obs

from vla.serving.client import PolicyClient, PolicyServerError
from vla.serving.server import PolicyServer, ServerConfig


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls_with_token(cert) -> None:
    certfile, keyfile = cert
    policy = FakePolicy()
    config = ServerConfig(port=0, token=TOKEN, certfile=certfile, keyfile=keyfile)
    handle = PolicyServer(policy, config).start_in_thread()
    try:
        ctx = ssl.create_default_context(cafile=certfile)
        with PolicyClient(port=handle.port, token=TOKEN, ssl_context=ctx) as client:
            assert client.uri.startswith("wss://")
            obs = make_obs(0)
            np.testing.assert_array_equal(client.act(obs), policy.act(obs))
        with pytest.raises(PolicyServerError, match="uses TLS, pass ssl_context"):
            PolicyClient(port=handle.port, token=TOKEN, timeout=5)
        with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate
            PolicyClient(port=handle.port, token=TOKEN, ssl_context=ssl.create_default_context())
    finally:
        handle.stop()


def test_tls_config_needs_both_files(cert, tmp_path) -> None:
    with pytest.raises(ValueError, match="both"):
        ServerConfig(certfile=cert[0])
    with pytest.raises(ValueError, match="does not exist"):
        ServerConfig(certfile=str(tmp_path / "x.pem"), keyfile=cert[1])
