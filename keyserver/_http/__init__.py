"""HTTP layer: the FastAPI app factory, routers per resource, problems, schemas."""
