"""The glue from the providers' settings (`Settings.providers`, see `idp.settings`) to `adapters`.

In sandbox mode every adapter
targets its in-process emulator (`adapters.sandbox.Sandbox`, keys under `<data dir>/sandbox/`), reached through
an in-process ASGI transport; `YIWANG_SMS_PROVIDER=aliyun|tencent` then exercises the real Aliyun/Tencent
adapter against its emulator. With sandbox mode off, every adapter needs its real base URL and credentials:
`problems()` lists what is missing, and `build_adapters_from_settings` refuses to build while any remain.
"""

from __future__ import annotations

from adapters.base import AuditHook
from adapters.config import AdaptersConfig
from adapters.factory import Adapters, build_adapters
from adapters.sandbox import Sandbox
from idp.settings import ProviderConfigError, ProviderSettings, Settings

__all__ = [
    "ProviderConfigError",
    "ProviderSettings",
    "adapters_config",
    "build_adapters_from_settings",
    "open_sandbox",
]


def open_sandbox(settings: Settings, providers: ProviderSettings) -> Sandbox:
    """The emulators for this data directory (keys and state shared by every worker and the CLI)."""
    return Sandbox(state_dir=settings.data_dir / "sandbox", photos_dir=providers.sandbox_photos_dir)


def adapters_config(settings: Settings, providers: ProviderSettings, sandbox: Sandbox | None) -> AdaptersConfig:
    """Sandbox mode: every adapter at its emulator (in-process); otherwise the production configuration."""
    if not settings.sandbox:
        return providers.production_config()
    if sandbox is None:
        raise ValueError("sandbox mode needs the Sandbox whose emulators the adapters should target")
    return sandbox.adapters_config(
        Sandbox.INTERNAL,
        sms=providers.sms_provider,
        browser_base_url=f"{settings.issuer}/sandbox",
        http=providers.http,
        face=providers.face,
    )


def build_adapters_from_settings(
    settings: Settings, providers: ProviderSettings | None = None, on_call: AuditHook | None = None
) -> tuple[Adapters, Sandbox | None]:
    """Every adapter, ready to use; in sandbox mode also the Sandbox to mount at `/sandbox` (`sandbox.mount`)."""
    providers = providers or settings.providers
    if not settings.sandbox:
        return build_adapters(providers.production_config(), on_call), None
    sandbox = open_sandbox(settings, providers)
    config = adapters_config(settings, providers, sandbox)
    return build_adapters(config, on_call, transport=sandbox.transport()), sandbox
