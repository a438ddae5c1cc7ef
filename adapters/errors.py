"""What an adapter raises. A business answer ("the name does not match") is a result, never an exception.

AdapterError
 ├── ProviderUnavailable   no usable answer: network error, time-out, HTTP 5xx, or the circuit is open.
 │                         Try later or offer another method; nothing was decided.
 ├── ProviderError         the provider answered and refused the call itself (bad credentials, malformed
 │    │                    request, quota): `code` carries the provider's code. Usually our configuration.
 │    └── InvalidResponse  the answer failed signature verification or could not be parsed: not trusted.
 └── UnusableImage         face: the image cannot be read, has no face, or has more than one face.
"""

from __future__ import annotations

__all__ = ["AdapterError", "ProviderUnavailable", "ProviderError", "InvalidResponse", "UnusableImage"]


class AdapterError(Exception):
    """Base of every adapter exception; `provider` names who was called."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderUnavailable(AdapterError):
    """No usable answer (network, time-out, 5xx) or the provider's circuit breaker is open."""


class ProviderError(AdapterError):
    """The provider refused the call itself; `code` is its error code (e.g. Aliyun `isv.BUSINESS_LIMIT_CONTROL`)."""

    def __init__(self, provider: str, code: str, message: str) -> None:
        super().__init__(provider, f"{code}: {message}")
        self.code = code


class InvalidResponse(ProviderError):
    """The response's signature did not verify, or the response could not be parsed."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(provider, "invalid_response", message)


class UnusableImage(AdapterError):
    """An image the face matcher cannot use; `reason` is `unreadable`, `too_large` (over the pixel limit: refused from the header), `no_face` or `several_faces`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__("face", message)
        self.reason = reason
