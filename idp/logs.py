"""JSON logs with personal data masked, for our own log lines and uvicorn's alike."""

from __future__ import annotations

import re
from typing import Any

import structlog

from idp.masking import mask_text

# Credentials that travel in query strings (authorization codes, token hints) must not sit in access logs.
_SECRET_PARAMS = re.compile(r"((?:code|id_token_hint|refresh_token|access_token|token|state|nonce)=)[^&\s\"]+")


def _scrub(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", mask_text(text))


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
    """Route our structlog loggers into stdlib logging, where `logging_config` renders masked JSON."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
