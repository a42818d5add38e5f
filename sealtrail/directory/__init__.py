"""The directory: tenants (organisations, in groups) and their API keys, and their storage."""
