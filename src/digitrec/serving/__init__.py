"""The FastAPI app (REST API and drawing board page) and its static files."""
