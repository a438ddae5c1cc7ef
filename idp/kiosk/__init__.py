"""人证合一 at self-service kiosks: registered kiosk clients bound to a service hall, and the check of an ID
card's chip against the live face in front of the kiosk (idp/kiosk/identify.py)."""
