"""Key management: the master key, envelope encryption of data keys and fields, blind indexes, token key sets.

This package imports nothing else of Yiwang's; storage is the caller's business.
"""

from keys.envelope import (
    DecryptionError,
    FieldCipher,
    blind_index,
    new_data_key,
    unwrap_key,
    wrap_key,
)
from keys.keyset import (
    SUPPORTED_ALGORITHMS,
    SigningKeyMaterial,
    generate_signing_key,
    load_private_key,
    published,
    signing_candidate,
)
from keys.master import MasterKeyError, load_master_key

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "DecryptionError",
    "FieldCipher",
    "MasterKeyError",
    "SigningKeyMaterial",
    "blind_index",
    "generate_signing_key",
    "load_master_key",
    "load_private_key",
    "new_data_key",
    "published",
    "signing_candidate",
    "unwrap_key",
    "wrap_key",
]
