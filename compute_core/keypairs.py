"""Key pairs: generating, checking and fingerprinting public keys.

Two key types, as the Compute API has them: ``ssh`` (an OpenSSH public key
line; its fingerprint is the MD5 of the key blob in colon-separated hex) and
``x509`` (a PEM certificate; its fingerprint is the SHA-1 of the DER form).
The storage of key pairs belongs to the API's key pair resource; this
module only knows keys.
"""
from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from compute_core import exception

KEY_TYPES = ("ssh", "x509")


class InvalidKey(exception.Invalid):
    msg_fmt = "Keypair data is invalid: %(reason)s"


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key line; InvalidKey when
    the line is not one."""
    text = (public_key or "").strip()
    parts = text.split()
    if len(parts) < 2:
        raise InvalidKey(reason="failed to generate fingerprint")
    try:
        serialization.load_ssh_public_key(" ".join(parts[:2]).encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, binascii.Error, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise InvalidKey(reason="failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    """The SHA-1 fingerprint of a PEM certificate; InvalidKey otherwise."""
    try:
        cert = x509.load_pem_x509_certificate((certificate or "").encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        raise InvalidKey(reason="failed to generate X509 fingerprint") from None
    return _colons(cert.fingerprint(hashes.SHA1()))


def fingerprint(public_key: str, key_type: str = "ssh") -> str:
    if key_type == "x509":
        return x509_fingerprint(public_key)
    return ssh_fingerprint(public_key)


def generate(name: str, user_id: str) -> tuple[str, str, str]:
    """A new ssh key pair: (private key PEM, public key line, fingerprint).
    The private key is returned once and never stored."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    public = f"{public} Generated-by-compute_core"
    return private, public, ssh_fingerprint(public)
