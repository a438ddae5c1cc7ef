"""The HTTP surface: a thin FastAPI layer over the service modules."""
