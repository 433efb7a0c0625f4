"""TLS to Berth's port: a CA to verify it, and a client certificate instead of a token (mutual TLS)."""

import subprocess
from pathlib import Path

import pytest
from berth_process import BerthProcess

from berth import BerthClient, BerthError, RetryPolicy, TlsConfig


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(dir: Path, name: str, cn: str, san: str = "") -> None:
    """A P-256 key and a certificate for it signed by the CA in ``dir``."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=dir)
    ext = dir / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", ext.name, cwd=dir)


def make_ca(dir: Path, name: str = "ca") -> None:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=berth-python-sdk-{name}", cwd=dir)


@pytest.fixture(scope="module")
def tls_berth(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    make_ca(certs)
    issue(certs, "server", "localhost", "DNS:localhost,IP:127.0.0.1")
    make_ca(certs, "other-ca")
    server = BerthProcess(
        env={
            "BERTH_TLS_CERT_FILE": str(certs / "server.pem"),
            "BERTH_TLS_KEY_FILE": str(certs / "server.key"),
            "BERTH_TLS_CLIENT_CA_FILE": str(certs / "ca.pem"),
        },
        ca_file=str(certs / "ca.pem"),
    )
    try:
        server.start()
        server.set_up()
        # A client certificate naming the service token: it signs in as that service.
        issue(certs, "client", server.token_name)
        server.certs = certs
        yield server
    finally:
        server.cleanup()


def test_a_token_over_tls_verified_against_a_ca_file(tls_berth):
    with BerthClient(tls_berth.url, token=tls_berth.token, tls={"ca": str(tls_berth.certs / "ca.pem")}) as c:
        assert c.query(tls_berth.connections["pg"], "SELECT 1").scalar() == 1


def test_a_ca_given_as_pem_and_the_name_to_verify(tls_berth):
    ca = (tls_berth.certs / "ca.pem").read_bytes()
    with BerthClient(f"127.0.0.1:{tls_berth.port}", token=tls_berth.token,
                     tls=TlsConfig(ca=ca, server_name="localhost")) as c:
        with c.session(tls_berth.connections["mysql"]) as s:
            assert s.query("SELECT 2").scalar() == 2


def test_a_client_certificate_signs_in_as_its_service_without_a_token(tls_berth):
    d = tls_berth.certs
    tls = {"ca": str(d / "ca.pem"), "cert": str(d / "client.pem"), "key": str(d / "client.key")}
    with BerthClient(tls_berth.url, tls=tls) as c:
        assert c.query(tls_berth.connections["pg"], "SELECT 3").scalar() == 3
    with BerthClient(tls_berth.url, tls={"ca": str(d / "ca.pem")}) as anonymous:
        with pytest.raises(BerthError) as info:
            anonymous.query(tls_berth.connections["pg"], "SELECT 3")
        assert info.value.code == "UNAUTHENTICATED"


def test_a_server_the_ca_does_not_vouch_for_is_a_typed_unavailable(tls_berth):
    tls = {"ca": str(tls_berth.certs / "other-ca.pem")}
    with BerthClient(tls_berth.url, token=tls_berth.token, tls=tls, retry=RetryPolicy(max_attempts=2)) as c:
        with pytest.raises(BerthError) as info:
            c.query(tls_berth.connections["pg"], "SELECT 1", timeout=10)
    assert info.value.code == "UNAVAILABLE"


def test_tls_options_that_cannot_work_are_refused_up_front(tmp_path):
    with pytest.raises(BerthError) as info:
        BerthClient("http://127.0.0.1:1", tls=True)
    assert info.value.reason == "invalid_url"
    with pytest.raises(BerthError) as info:
        BerthClient("https://127.0.0.1:1", tls={"ca": str(tmp_path / "missing.pem")})
    assert info.value.reason == "tls_file_unreadable"
    with pytest.raises(BerthError) as info:
        BerthClient("https://127.0.0.1:1", tls={"cert": b"-----BEGIN CERTIFICATE-----"})
    assert info.value.code == "INVALID_ARGUMENT"
    with pytest.raises(BerthError) as info:
        BerthClient("https://127.0.0.1:1", tls={"password": "x"})
    assert info.value.reason == "invalid_tls_option"
