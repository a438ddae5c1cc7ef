"""Signing's HTTP routes (PKI, the signing REST API, the CSC API), mounted by the app.

The app provides a `signing.web.host.WebHost` on `app.state.signing_host`: the signing context, who an access
token speaks for, the signed-in person, and page rendering. These routes import nothing from `idp`.
"""
