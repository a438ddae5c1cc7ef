"""Identity records and the service layer that pages, API and CLI all call."""
