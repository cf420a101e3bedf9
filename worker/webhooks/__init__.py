"""Webhook delivery: signing (Standard Webhooks), the SSRF-guarded transport, the sweep and the
per-endpoint delivery task (docs/webhooks.md)."""
