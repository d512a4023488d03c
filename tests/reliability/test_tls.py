"""TLS: certificates are verified by default, and only a user's own session changes that."""

from __future__ import annotations

import inspect
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from vlens_async import ExistenceResult, RetryPolicy, VlensClient, VlensConnectionError
from vlens_async.sandbox import Sandbox, create_app
from vlens_transports import AiohttpTransport

PHONE = "+201001234567"
SOURCE = Path(inspect.getfile(AiohttpTransport))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A test CA and a certificate it issued for 127.0.0.1: (CA file, server key + chain file)."""
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    ca_file, server_file = folder / "ca.pem", folder / "server.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server.private_key_and_cert_chain_pem.write_to_path(str(server_file))
    return ca_file, server_file


@pytest.fixture
async def https_url(certificate: tuple[Path, Path]) -> AsyncIterator[tuple[str, Sandbox]]:
    """The sandbox served over HTTPS on 127.0.0.1 with a certificate from an untrusted CA."""
    _, server_file = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_file)
    sandbox = Sandbox(seed=8)
    runner = web.AppRunner(create_app(sandbox), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}", sandbox
    await runner.cleanup()


async def test_default_client_refuses_an_untrusted_certificate(
    https_url: tuple[str, Sandbox],
) -> None:
    """An untrusted certificate fails verification: VlensConnectionError, nothing processed."""
    url, sandbox = https_url
    async with VlensClient("sandbox-key", base_url=url, retry=RetryPolicy.no_wait()) as client:
        with pytest.raises(VlensConnectionError) as caught:
            await client.registration.check_existence(PHONE)
    assert "ClientConnectorCertificateError" in str(caught.value)  # aiohttp's type, named
    assert sandbox.requests_seen == 0


async def test_verification_ignores_environment_switches(
    https_url: tuple[str, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variables that switch verification off elsewhere (requests, urllib) change nothing here."""
    url, sandbox = https_url
    for name, value in {
        "PYTHONHTTPSVERIFY": "0",
        "CURL_CA_BUNDLE": "",
        "REQUESTS_CA_BUNDLE": "",
        "VLENS_VERIFY_SSL": "0",
        "VLENS_INSECURE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VLENS_API_KEY", "sandbox-key")
    monkeypatch.setenv("VLENS_BASE_URL", url)
    async with VlensClient.from_env(retry=RetryPolicy.no_wait()) as client:
        with pytest.raises(VlensConnectionError):
            await client.registration.check_existence(PHONE)
    assert sandbox.requests_seen == 0


async def test_own_session_is_the_explicit_way_to_change_tls(
    https_url: tuple[str, Sandbox], certificate: tuple[Path, Path]
) -> None:
    """A borrowed session with the user's own SSL context (trusting the cert) is used as is."""
    url, sandbox = https_url
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as session,
        VlensClient(
            "sandbox-key", base_url=url, transport=AiohttpTransport(session=session)
        ) as client,
    ):
        result = await client.registration.check_existence(PHONE)
    assert isinstance(result, ExistenceResult)
    assert sandbox.requests_seen == 1


def test_no_parameter_turns_verification_off() -> None:
    """Neither the transport nor the client takes a verify/ssl switch; the source sets none."""
    for signature in (
        inspect.signature(AiohttpTransport.__init__),
        inspect.signature(VlensClient.__init__),
    ):
        names = {name.lower() for name in signature.parameters}
        assert not {name for name in names if "ssl" in name or "verify" in name or "tls" in name}
        assert "connector" not in names
    source = SOURCE.read_text()
    for switch in ("ssl=False", "verify_ssl", "CERT_NONE", "check_hostname", "ssl=None"):
        assert switch not in source
