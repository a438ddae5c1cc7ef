"""JSON logs with personal data masked, for our own log lines and every library's alike.

Masking happens twice. Every `logging.LogRecord`, whichever logger makes it (pyHanko, pyhanko_certvalidator,
asn1crypto, authlib, uvicorn, httpx...) and whichever handler later sees it (ours, a library's own, a test's
capture), is masked when it is made (`install_masking`: a record factory). Then our JSON formatter masks every
field of the rendered event again, which also covers tracebacks formatted late. pyHanko puts whole certificate
subjects into its warnings ("Validation error [cert context: Common Name: 张三 ...]"): those are masked too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import structlog

from idp.masking import mask_subjects, mask_text

# Credentials that travel in query strings (authorization codes, token hints) must not sit in access logs.
_SECRET_PARAMS = re.compile(r"((?:code|id_token_hint|refresh_token|access_token|token|state|nonce)=)[^&\s\"]+")


def _scrub(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", mask_subjects(mask_text(text)))


def masking_factory(inner: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """A log record factory around `inner` that masks the message, its arguments and any exception text."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        if getattr(record, "yiwang_masked", False):
            return record
        try:
            message = record.getMessage()  # arguments may be objects (a certificate's Name) that print a name
        except Exception:  # noqa: BLE001 - a bad format string is the library's bug; keep its words, masked
            message = str(record.msg)
        masked = _scrub(message)
        if masked != message:
            # Only then is the message replaced by its rendered, masked text: records without personal data
            # keep their arguments apart (uvicorn's access formatter reads them).
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _scrub(logging.Formatter().formatException(record.exc_info))
        record.yiwang_masked = True
        return record

    make.yiwang_masking = True  # type: ignore[attr-defined]
    return make


def install_masking() -> None:
    """Mask every log record this process makes (idempotent; the factory is process-wide by nature)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "yiwang_masking", False):
        logging.setLogRecordFactory(masking_factory(current))


def _mask_event(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    # A last line of defence: values are masked at the source; this catches what slipped through
    # (an ID number in a URL path, a phone in an exception message, a code in a query string).
    return {k: _scrub(v) if isinstance(v, str) else v for k, v in event.items()}


_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` that renders every record (ours and uvicorn's) as masked JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _SHARED,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _mask_event,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
            }
        },
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def configure_structlog() -> None:
    """Route our structlog loggers into stdlib logging, where `logging_config` renders masked JSON; mask every
    record any library makes."""
    install_masking()
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
