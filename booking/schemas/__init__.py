"""Marshmallow input/output schemas. No queries here: schemas shape and validate data only."""
