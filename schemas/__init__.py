"""Every marshmallow schema of the API, request and response."""
