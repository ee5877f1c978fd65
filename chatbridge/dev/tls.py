"""A throw-away certificate authority of a local run's own (tests, the rolling bench), and
the certificates it signs.

Servers on loopback (the production profile's proxy, the webhook tests' receivers) present
certificates it signed; clients trust the authority alone (httpx's verify=, an SSLContext) or
are told to ignore errors (the browser). The keys never leave the run's temporary directory.
"""

import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=1)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Certificates:
    authority: Path
    certificate: Path
    key: Path

    def trusting(self) -> ssl.SSLContext:
        """A client's TLS context that trusts the authority, and it alone."""
        return ssl.create_default_context(cafile=str(self.authority))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: object) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _alternative_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


@dataclass
class LocalAuthority:
    """A certificate authority of the run's own, and certificates for names it signs."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        name = _name("ChatBridge test authority")
        self.certificate = (
            _builder(name, name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, names: tuple[str, ...], directory: Path, stem: str) -> tuple[Path, Path]:
        """A server certificate for `names` (host names or addresses) and its key, as PEM
        files `<stem>.pem` and `<stem>-key.pem` in `directory`."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            _builder(_name(names[0]), self.certificate.subject, key.public_key())
            .add_extension(
                x509.SubjectAlternativeName([_alternative_name(name) for name in names]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        certificate_file = directory / f"{stem}.pem"
        key_file = directory / f"{stem}-key.pem"
        certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_file)
        return certificate_file, key_file

    def write(self, path: Path) -> Path:
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def client_context(self) -> ssl.SSLContext:
        """A client's context that trusts this authority only (and checks host names)."""
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        return ssl.create_default_context(cadata=pem)

    def server_context(self, dns_name: str, directory: Path) -> ssl.SSLContext:
        """A server's context presenting a certificate for `dns_name`, signed by this CA."""
        certificate_file, key_file = self.issue((dns_name,), directory, dns_name)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate_file, key_file)
        return context


def loopback_certificates(directory: Path) -> Certificates:
    """An authority, and a certificate for 127.0.0.1, ::1 and localhost signed by it."""
    authority = LocalAuthority()
    certificate, key = authority.issue(LOOPBACK_NAMES, directory, "server")
    return Certificates(
        authority=authority.write(directory / "authority.pem"),
        certificate=certificate,
        key=key,
    )
