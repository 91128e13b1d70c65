"""Cohort search: the query language (parser), its SQL (compiler) and the service."""
