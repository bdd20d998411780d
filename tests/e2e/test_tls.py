"""TLS on the gateway: a CA made in the test signs the gateway's certificate (and, for mTLS, a
client's); gateway replicas with EMOPULSE_TLS_* beside the session's stack (same NATS and workers).
The SDK and the CLI talk TLS with --ca; a plaintext client, and under mTLS a client without a
certificate, are refused."""
from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from emopulse.client import Client
from emopulse.stack import REPO_ROOT
from tests.stack_fixtures import extra_gateways

pytestmark = pytest.mark.slow


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(name: str, ca=None, ca_key=None, server: bool = False):
    """(certificate, key): a self-signed CA when ``ca`` is None, else one ``ca`` signs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject if ca else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    if ca is not None:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(ca_key or key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization

    d = tmp_path_factory.mktemp("pki")
    ca, ca_key = _issue("EmoPulse test CA")
    files = {}
    for name, (cert, key) in {"ca": (ca, ca_key), "server": _issue("gateway", ca, ca_key, server=True),
                              "client": _issue("a client", ca, ca_key)}.items():
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}-key.pem").write_bytes(_pem_key(key))
        files[name], files[f"{name}-key"] = str(d / f"{name}.pem"), str(d / f"{name}-key.pem")
    return files


def _ready(address: str, pki: dict, mtls: bool) -> bool:
    try:
        with Client(address, timeout=2, ca=pki["ca"], cert=pki["client"] if mtls else None,
                    key=pki["client-key"] if mtls else None, api_key="") as c:
            c.list_jobs()
        return True
    except grpc.RpcError:
        return False


@pytest.fixture(scope="module")
def tls_gateways(stack, pki):
    """{"tls": address, "mtls": address}: gateway replicas speaking TLS, the second one asking for client certificates."""
    tls = {"EMOPULSE_TLS_CERT": pki["server"], "EMOPULSE_TLS_KEY": pki["server-key"]}
    with extra_gateways(stack, [tls, tls | {"EMOPULSE_TLS_CLIENT_CA": pki["ca"]}],
                        lambda address, i: _ready(address, pki, mtls=i == 1)) as (plain_tls, mtls):
        yield {"tls": plain_tls, "mtls": mtls}


def test_the_sdk_and_the_cli_over_tls_and_a_plaintext_client_refused(tls_gateways, pki, talking_clip):
    with Client(tls_gateways["tls"], timeout=30, ca=pki["ca"]) as c:
        results, last = c.results(c.upload(talking_clip[0], language="en").id, timeout=240)
        assert last.HasField("summary") and len(results) == 3
    cli = subprocess.run([sys.executable, "-m", "emopulse.cli", "jobs", "--gateway", tls_gateways["tls"],
                          "--ca", pki["ca"]], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert cli.returncode == 0, cli.stderr
    with Client(tls_gateways["tls"], timeout=5) as plain:
        with pytest.raises(grpc.RpcError) as refused:
            plain.list_jobs()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    with Client(tls_gateways["tls"], timeout=5, tls=True) as untrusted:  # the system's CAs do not know ours
        with pytest.raises(grpc.RpcError) as refused:
            untrusted.list_jobs()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mtls_wants_a_client_certificate_from_the_ca(tls_gateways, pki):
    with Client(tls_gateways["mtls"], timeout=10, ca=pki["ca"], cert=pki["client"], key=pki["client-key"]) as c:
        assert isinstance(c.list_jobs(), list)
    with Client(tls_gateways["mtls"], timeout=5, ca=pki["ca"]) as without:
        with pytest.raises(grpc.RpcError) as refused:
            without.list_jobs()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # a certificate the CA did not sign (self-signed) is refused too
    from cryptography.hazmat.primitives import serialization
    stranger, key = _issue("stranger")
    d = Path(pki["ca"]).parent
    (d / "stranger.pem").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    (d / "stranger-key.pem").write_bytes(_pem_key(key))
    with Client(tls_gateways["mtls"], timeout=5, ca=pki["ca"], cert=str(d / "stranger.pem"),
                key=str(d / "stranger-key.pem")) as other:
        with pytest.raises(grpc.RpcError) as refused:
            other.list_jobs()
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_renewed_certificate_is_served_without_a_restart(stack, pki, tmp_path):
    """cert-manager renews a mounted Secret's files in place: new connections get the new certificate
    (here from another CA), and a half-done renewal (a key without its certificate) keeps the old one."""
    from cryptography.hazmat.primitives import serialization
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copy(pki["server"], cert)
    shutil.copy(pki["server-key"], key)
    tls = {"EMOPULSE_TLS_CERT": str(cert), "EMOPULSE_TLS_KEY": str(key)}
    with extra_gateways(stack, [tls], lambda address, _: _ready(address, pki, mtls=False)) as (address,):
        new_ca, new_ca_key = _issue("EmoPulse renewed CA")
        renewed, renewed_key = _issue("gateway", new_ca, new_ca_key, server=True)
        (tmp_path / "new-ca.pem").write_bytes(new_ca.public_bytes(serialization.Encoding.PEM))

        key.write_bytes(_pem_key(renewed_key))  # the key first: it does not fit the certificate yet
        with Client(address, timeout=10, ca=pki["ca"]) as before:
            assert isinstance(before.list_jobs(), list)
        cert.write_bytes(renewed.public_bytes(serialization.Encoding.PEM))
        with Client(address, timeout=10, ca=str(tmp_path / "new-ca.pem")) as after:
            assert isinstance(after.list_jobs(), list)
        with Client(address, timeout=5, ca=pki["ca"]) as stale:  # the old CA no longer vouches for the gateway
            with pytest.raises(grpc.RpcError) as refused:
                stale.list_jobs()
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    log = next((stack.data_dir / "logs").glob(f"gateway-extra-{address.rsplit(':', 1)[1]}.log")).read_text()
    assert "could not be loaded" in log and "TLS certificate reloaded" in log
