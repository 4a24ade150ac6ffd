"""REST API of brokers: CRUD with write-only credentials, and live checks through the gateway."""
