"""Polymarket CLOB v2 venue on the official Python client."""
