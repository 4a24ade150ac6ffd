"""The exchange gateway (terminal 5): the only process that decrypts keys and talks to exchanges."""
