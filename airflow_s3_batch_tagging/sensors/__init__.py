"""Sensors of the S3 batch tagging provider."""
