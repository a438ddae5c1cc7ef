"""The staff console at /console: sign-in through our own provider, role-guarded pages, /docs for staff
(wired into the app by `idp.web.console.mount.install`)."""
