"""The REST API for mobile apps and server-side integrations: /api/v1/ (docs/rest-api.md)."""
