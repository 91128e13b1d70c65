"""Cohort search: the criteria builder, the query text, the patients found, the campaign."""
