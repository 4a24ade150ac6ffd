"""Encryption of exchange credentials at rest (Fernet, keys from ARISTOBOT_ENCRYPTION_KEY).

Encrypting happens wherever a broker is saved; decrypting is for the gateway alone.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from trading.errors import ConfigurationError


def _fernet() -> MultiFernet:
    if not settings.ENCRYPTION_KEYS:
        raise ConfigurationError("ARISTOBOT_ENCRYPTION_KEY is not set: exchange credentials cannot be stored")
    return MultiFernet([Fernet(key) for key in settings.ENCRYPTION_KEYS])


def credential_encrypt(plain: str) -> str:
    """Ciphertext for a credential; the empty string stays empty (nothing set)."""
    if not plain:
        return ""
    return _fernet().encrypt(plain.encode()).decode()


def credential_decrypt(cipher: str, *, broker_label: str) -> str:
    """The plain credential. Only the exchange gateway calls this."""
    if not cipher:
        return ""
    try:
        return _fernet().decrypt(cipher.encode()).decode()
    except InvalidToken:
        raise ConfigurationError(
            f"credentials of broker {broker_label} cannot be decrypted with the configured "
            "ARISTOBOT_ENCRYPTION_KEY (was the key changed without rotation?)"
        ) from None


def credential_reencrypt(cipher: str) -> str:
    """Re-encrypt with the first (newest) key, for key rotation."""
    if not cipher:
        return ""
    return _fernet().rotate(cipher.encode()).decode()
