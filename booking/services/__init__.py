"""Use cases. Each takes the acting user (``Actor``) explicitly, flushes, and never commits:
the HTTP layer commits once per request."""
