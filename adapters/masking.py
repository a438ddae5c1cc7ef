"""Masks for what adapters put in audit details: adapters import nothing of ours, so they carry their own.

Same shapes as the service's masks: `110***********0012`, `+86138****8000`, `张*`, `6217*********0012`.
"""

from __future__ import annotations

__all__ = ["mask_id_number", "mask_phone", "mask_name", "mask_card", "mask_token"]


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_id_number(value: str) -> str:
    return _keep(value.strip(), 3, 4)


def mask_phone(value: str) -> str:
    v = value.strip()
    prefix = ""
    if v.startswith("+86"):
        prefix, v = "+86", v[3:]
    return prefix + _keep(v, 3, 4)


def mask_name(value: str) -> str:
    v = value.strip()
    return v[:1] + "*" * max(len(v) - 1, 1) if v else v


def mask_card(value: str) -> str:
    return _keep(value.strip(), 4, 4)


def mask_token(value: str) -> str:
    """Opaque identifiers (Alipay user ids, auth codes): enough to correlate, not to replay."""
    return _keep(value.strip(), 4, 2)
