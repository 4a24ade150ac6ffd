"""REST API of alerts (Webhook), positions (WebhookState), orders and webhook tokens."""
